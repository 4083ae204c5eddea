// 'facegar/node': what only Node has — files, the model cache and download, image codecs.
import { loadMorphableModel, type LoadMorphableModelOptions } from './load-morphable-model.ts';
import { loadDetectorModelFiles } from './detector-models.ts';
import type { ReconstructorResources } from '../../api/reconstruct.ts';

export { loadMorphableModel, directoryReader } from './load-morphable-model.ts';
export type { LoadMorphableModelOptions, LoadedMorphableModel } from './load-morphable-model.ts';
export { loadDetectorModelFiles } from './detector-models.ts';
export { decodeImageFile, decodeImageBytes, decodeImageFileScaled, decodeImageBytesScaled } from './decode-image.ts';
export type { DecodeOptions, DecodedImage } from './decode-image.ts';
export { encodePng, writePngAtomic } from './encode-image.ts';
export { writeFileAtomic, ensureWritableDirectory } from './atomic-write.ts';
export { defaultCacheDir, ensureBundle } from './model-cache.ts';
export type { RemoteBundle, RemoteFile, EnsureBundleOptions } from './model-cache.ts';
export { ICT_FACEKIT_BUNDLE, HUMAN_MODELS_BUNDLE } from './bundles.ts';

/** Load everything a Reconstructor needs from the default places (see loadMorphableModel). */
export async function loadReconstructorResources(options: LoadMorphableModelOptions = {}): Promise<ReconstructorResources> {
  const [{ model }, detector] = await Promise.all([loadMorphableModel(options), loadDetectorModelFiles()]);
  return { model, detector };
}
