// Messages between the page and its worker (structured-cloned; typed arrays travel as they are).
import type { FaceTrackerConfig, FitConfig, GarModelFiles, GarRefinePresetName, IdentityRegressorFiles, RendererName, RgbaImage } from '../src/index.ts';
import type { BackendChoice } from './backend-probe.ts';

/** What the page asks for a photo: the renderer and, on the GAR path, the preset (as the CLI's --renderer, --preset). */
export interface PhotoSettings {
  renderer: RendererName;
  preset: GarRefinePresetName;
  /** Graphics path: overrides of the fit options (?fit=). */
  fit?: Partial<FitConfig>;
  /** The camera's focal length (px of the image sent) from the photo's EXIF; the fit holds it, as the CLI's does. */
  knownFocalPx?: number;
}

export type WorkerRequest =
  | {
      type: 'init';
      backend?: string;
      wasmPath: string;
      modelBytes: ArrayBuffer;
      detector: unknown;
      networks?: GarModelFiles;
      identityRegressor?: IdentityRegressorFiles;
    }
  | { type: 'reconstruct'; image: RgbaImage; scale: number; originalSize: { width: number; height: number }; name: string; settings: PhotoSettings }
  | { type: 'track'; frame: ImageBitmap }
  /** `tracker`: the tracker's options (the page's `?live=` JSON); a new tracker is made with them. */
  | { type: 'track-reset'; tracker?: FaceTrackerConfig };

export interface ResultFiles {
  names: { glb: string; obj: string; mtl: string; texture: string; json: string };
  glb: Uint8Array;
  obj: string;
  mtl: string;
  texturePng: Uint8Array;
  json: string;
}

/** The progress bars: `refine` is the GAR steps or the graphics path's photometric fit. */
export type ProgressStage = 'detect' | 'encode' | 'landmarks' | 'refine' | 'texture';

export interface TrackedFrame {
  /** [V*3] model space, mm. */
  vertices: Float32Array;
  /** Row-major 3×3 and mm: p_cam = R p + t, camera looking down −z. */
  rotation: Float64Array;
  translationMm: [number, number, number];
  focalPx: number;
  principalPointPx: [number, number];
  frameSize: { width: number; height: number };
  /** [68*2] px, the mesh's and the detector's. */
  landmarks2d: Float32Array;
  detectedLandmarks2d: Float32Array;
  landmarkErrorPercent: number;
  anglesDeg: [number, number, number];
  identityFrames: number;
  /** Whether the encoder ran on this frame (on a face found anew, then every few frames). */
  encoded: boolean;
  /** First number of the accumulated identity (the test watches it settle). */
  identity: Float32Array;
  timingsMs: { detect: number; encode: number; landmarks: number; total: number };
}

export type WorkerResponse =
  /** `triangles`: the model's [F*3], for live mode's mesh; `garError`: why the networks sent were not usable. */
  | { type: 'ready'; backend: string; threads: number; choice: BackendChoice; gar: boolean; encoder: boolean; garError?: string; triangles: Uint32Array }
  | { type: 'progress'; stage: ProgressStage; fraction: number }
  /** GAR path: the encoder's estimate, shown while the refinement runs. */
  | { type: 'estimate'; overlay: RgbaImage; glb: Uint8Array; garComparison: RgbaImage; landmarkErrorPercent: number; encodeMs: number }
  | {
      type: 'result';
      json: Record<string, unknown>;
      overlay: RgbaImage;
      files: ResultFiles;
      coverage: { photo: number; mirror: number; filled: number };
      garComparison?: RgbaImage;
    }
  /** A frame tracked (no `frame`: no face in it), or the answer to 'track-reset'. */
  | { type: 'tracked'; frame?: TrackedFrame }
  | { type: 'error'; code: string; message: string };
