// Messages between the page and its worker (structured-cloned; typed arrays travel as they are).
import type { RgbaImage } from '../src/common/image.ts';
import type { FitConfig } from '../src/fit/fit-config.ts';

export type WorkerRequest =
  | { type: 'init'; backend?: string; wasmPath: string; modelBytes: ArrayBuffer; detector: unknown }
  | { type: 'reconstruct'; image: RgbaImage; scale: number; originalSize: { width: number; height: number }; name: string; fit?: Partial<FitConfig> };

export interface ResultFiles {
  names: { glb: string; obj: string; mtl: string; texture: string; json: string };
  glb: Uint8Array;
  obj: string;
  mtl: string;
  texturePng: Uint8Array;
  json: string;
}

export type WorkerResponse =
  | { type: 'ready'; backend: string; threads: number }
  | { type: 'progress'; stage: 'detect' | 'landmarks' | 'photometric' | 'texture'; fraction: number }
  | { type: 'result'; json: Record<string, unknown>; overlay: RgbaImage; files: ResultFiles; coverage: { photo: number; mirror: number; filled: number } }
  | { type: 'error'; code: string; message: string };
