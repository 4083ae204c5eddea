export { ENCODER_PRESETS, encoderNetworkConfig, encoderPresetForResolution, encoderOutputLayout, validateEncoderNetworkConfig } from './encoder-config.ts';
export type { EncoderNetworkConfig, EncoderPresetName } from './encoder-config.ts';
export { FaceEncoder } from './face-encoder.ts';
export type { EncoderEstimate } from './face-encoder.ts';
export {
  CROP_DEPTH_REF_MM,
  CROP_FOCAL_PER_SIDE,
  createCropFrame,
  cropCamera,
  cropCameraPoints,
  cropFocal,
  cropPoseOfSample,
  cropPoseToCamera,
  landmarkPivotMm,
  pivotDirection,
} from './crop-frame.ts';
export type { CropFrame, CropPose, CropPoseTensors } from './crop-frame.ts';
export { renderThroughGar, imageToGarTensor, garTensorToImage } from './render-through-gar.ts';
export type { GarRender } from './render-through-gar.ts';
export { ShapeBasis, subsampleVertices } from './shape-basis.ts';
export { EncoderTrainer, DEFAULT_TRAIN_ENCODER_CONFIG, validateTrainEncoderConfig, directionOfPose } from './train-encoder.ts';
export type { TrainEncoderConfig, EncoderStepLosses } from './train-encoder.ts';
export {
  encodeEncoderCheckpoint,
  decodeEncoderTrainer,
  decodeFaceEncoder,
  encoderTrainerFrom,
  validateEncoderCheckpointManifest,
} from './encoder-checkpoint.ts';
export type { EncoderCheckpointManifest } from './encoder-checkpoint.ts';
