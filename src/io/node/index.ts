// 'facegar/node': what only Node has — files, the model cache and download, image codecs.
import { loadMorphableModel, type LoadMorphableModelOptions } from './load-morphable-model.ts';
import { loadDetectorModelFiles } from './detector-models.ts';
import type { ReconstructorResources } from '../../api/reconstruct.ts';
import { chooseRenderer, readChosenLandmarkRegressor, readGarModelFiles, readIdentityRegressorFiles, type RendererRequest } from './gar-models.ts';

export { loadMorphableModel, directoryReader } from './load-morphable-model.ts';
export type { LoadMorphableModelOptions, LoadedMorphableModel } from './load-morphable-model.ts';
export { loadDetectorModelFiles, SHIPPED_LANDMARK_MAP } from './detector-models.ts';
export { decodeImageFile, decodeImageBytes, decodeImageFileScaled, decodeImageBytesScaled } from './decode-image.ts';
export type { DecodeOptions, DecodedImage } from './decode-image.ts';
export { encodePng, writePngAtomic } from './encode-image.ts';
export { writeFileAtomic, ensureWritableDirectory } from './atomic-write.ts';
export { defaultCacheDir, ensureBundle } from './model-cache.ts';
export type { RemoteBundle, RemoteFile, EnsureBundleOptions } from './model-cache.ts';
export { ICT_FACEKIT_BUNDLE, HUMAN_MODELS_BUNDLE } from './bundles.ts';
export {
  chooseLandmarkRegressor,
  chooseRenderer,
  readChosenLandmarkRegressor,
  readGarModelFiles,
  readLandmarkRegressorFiles,
  shippedModelsDir,
  SHIPPED_GAR_NAMES,
  SHIPPED_ENCODER_NAMES,
  SHIPPED_SHAPE_ENCODER_NAMES,
  SHIPPED_LANDMARK_REGRESSOR_NAMES,
} from './gar-models.ts';
export type { RendererChoice, RendererRequest } from './gar-models.ts';

/**
 * Load everything a Reconstructor needs from the default places (see loadMorphableModel), with
 * the GAR and encoder checkpoints when the CLI's lookup picks the GAR path (see chooseRenderer:
 * `renderer`, `gar`, `encoder` as the CLI's options; by default the shipped models when the
 * default renderer is gar), a landmark regressor (`landmarkRegressor`: a directory or 'none';
 * by default the shipped one, if any) and the identity regressor chooseRenderer picks
 * (`identityRegressor`: a directory or 'none').
 */
export async function loadReconstructorResources(
  options: LoadMorphableModelOptions & Omit<RendererRequest, 'modelsDir' | 'defaultRenderer'> & { landmarkRegressor?: string } = {},
): Promise<ReconstructorResources> {
  const choice = await chooseRenderer(options);
  const [{ model }, detector, gar, landmarkRegressor, identityRegressor] = await Promise.all([
    loadMorphableModel(options),
    loadDetectorModelFiles(),
    choice.renderer === 'gar'
      ? readGarModelFiles({ garDir: choice.garDir!, encoderDir: choice.encoderDir, shapeEncoderDir: choice.shapeEncoderDir })
      : undefined,
    readChosenLandmarkRegressor(options.landmarkRegressor),
    choice.identityRegressorDir ? readIdentityRegressorFiles(choice.identityRegressorDir) : undefined,
  ]);
  return {
    model,
    detector,
    ...(gar ? { gar } : {}),
    ...(landmarkRegressor ? { landmarkRegressor } : {}),
    ...(identityRegressor ? { identityRegressor } : {}),
  };
}
