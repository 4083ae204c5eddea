import { loadMorphableModel } from '../../src/io/node/load-morphable-model.ts';
import type { MorphableModel } from '../../src/morphable/morphable-model.ts';
import { modelDir, testCacheDir } from './shared-data.ts';

let loaded: Promise<MorphableModel> | undefined;

/** The shared ICT-FaceKit model, loaded once per test file through the test cache. */
export function sharedModel(): Promise<MorphableModel> {
  loaded ??= loadMorphableModel({ modelDir, cacheDir: testCacheDir }).then((result) => result.model);
  return loaded;
}
