// Public API of the detect module: face boxes, 468-point mesh, iBUG-68 landmarks, aligned crops.
export { createFaceDetector, DEFAULT_FACE_DETECTOR_CONFIG } from './face-detector.ts';
export type { DetectedFace, DetectorModelFiles, FaceDetector, FaceDetectorConfig } from './face-detector.ts';
export type { FaceBox } from './blazeface.ts';
export type { ModelBytes } from './graph-model.ts';
export { IBUG68_FROM_MESH468, meshToIbug68 } from './ibug68.ts';
export { ALIGNED_CROP_TEMPLATE, alignFaceCrop } from './align-face-crop.ts';
