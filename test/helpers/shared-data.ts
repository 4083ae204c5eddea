// Where tests find the data in ../shared (never copied into the repository).
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

export const repositoryRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const sharedDir = process.env.FACEGAR_SHARED_DIR ?? resolve(repositoryRoot, '../shared');
export const modelDir = process.env.FACEGAR_MODEL_DIR ?? join(sharedDir, 'models/ict-facekit');
export const photosDir = join(sharedDir, 'photos/examples');
export const detectionsDir = join(photosDir, 'detections');

/** One compact-model cache for the whole test run (tests of the cache itself use their own). */
export const testCacheDir = process.env.FACEGAR_CACHE_DIR ?? join(repositoryRoot, '.cache', 'test');
