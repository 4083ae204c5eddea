// The landmarks a GAR-path fit follows: the detector's, or, where they are unreliable (a turned
// face, see fit/landmark-reliability.ts), the landmarks a shape encoder's estimate implies: its
// mesh's landmark vertices projected through its camera.
import { applyAffine2D, type RgbaImage } from '../common/image.ts';
import { alignFaceCrop, faceCropTransform } from '../detect/align-face-crop.ts';
import { defaultLandmarkVertices, evaluateVertices } from '../fit/contour-landmarks.ts';
import type { DetectedFace } from '../detect/face-detector.ts';
import {
  meshYawDeg,
  assessDetectorLandmarks,
  blendLandmarks,
  type DetectorLandmarkEvidence,
  type LandmarkAssessment,
  type LandmarkReliabilityConfig,
  type LandmarkSource,
} from '../fit/landmark-reliability.ts';
import { projectPointsArray, transformPointsArray } from '../geometry/camera.ts';
import { createCropFrame, cropCameraToPhoto, cropPoseOfPhotoFit, cropPoseToCamera, type CropPose } from '../invert/crop-frame.ts';
import type { EncoderEstimate, FaceEncoder } from '../invert/face-encoder.ts';
import { imageToGarTensor } from '../invert/render-through-gar.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';

/**
 * |yaw| (degrees, FaceMesh's own) from which a fit follows the landmark map's points instead of
 * FaceMesh's on their calibrated vertices. Turned faces need the map (on the Cycles tuning sets,
 * 4.09 vs 2.86 % NME at 25–30°, 7.31 vs 5.28 % past 30°). On frontal renders the map is as good or
 * better, but on the example photos following it below 25° moved the fitted eyes, nose and mouth
 * corners away from the reference detections (5-point agreement 0.069 vs 0.053 of the eye
 * distance; docs/tuning.md): renders do not teach it how FaceMesh behaves on real frontal faces.
 */
export const LANDMARK_MAP_FROM_YAW_DEG = 25;

/** The landmark map's 68 points for this face when it has them and is turned at least `fromYawDeg`; else undefined. */
export function mappedLandmarks(face: DetectedFace, fromYawDeg = LANDMARK_MAP_FROM_YAW_DEG): Float32Array | undefined {
  if (!face.modelLandmarks68 || face.mesh468.length !== 468 * 3) return undefined;
  return Math.abs(meshYawDeg(face.mesh468)) >= fromYawDeg ? face.modelLandmarks68 : undefined;
}

export interface LandmarkGateOptions {
  /** Thresholds of the reliability decision (DEFAULT_LANDMARK_RELIABILITY_CONFIG). */
  reliability?: Partial<LandmarkReliabilityConfig>;
  /**
   * When the detector's points are replaced: how often to cut the encoder's crop again around the
   * landmarks its estimate implies and estimate again (each time one more encoder pass). Default 0.
   */
  cropRefinements?: number;
  /** The model vertex under each of the detector's 68 points (default: FaceMesh's calibration); the encoder's points are those vertices too. */
  landmarkVertices?: ArrayLike<number>;
  /**
   * Where the detector's points are replaced, put the mean of the encoder's and the detector's
   * instead of the encoder's alone: for the landmark map's points, which stay usable on turned
   * faces (on the Cycles tuning set seed 3: NME 13.21 % of the eye distance against 14.43 with
   * the encoder's alone, 3D error 3.54 against 3.56 mm).
   */
  averageReplaced?: boolean;
}

export interface LandmarkChoice {
  /** [68*2] photo px: what the fit cuts its crops around and follows (the detector's points where reliable). */
  landmarks68: Float32Array;
  source: LandmarkSource;
  assessment: LandmarkAssessment;
  /** The shape encoder's estimate, in the frame of the crop `alignFaceCrop(image, landmarks68, R)` cuts. */
  estimate: EncoderEstimate;
  /** Encoder passes run (1 + crop refinements when the detector's points were replaced). */
  encoderPasses: number;
}

/** The encoder's estimate on the crop aligned from `landmarks68`. */
export function estimateFromLandmarks(
  encoder: FaceEncoder,
  image: RgbaImage,
  landmarks68: Float32Array,
): { estimate: EncoderEstimate; cropFromImage: ReturnType<typeof faceCropTransform> } {
  const { crop, cropFromImage } = alignFaceCrop(image, landmarks68, encoder.config.resolution);
  // Outside the photo: opaque black, as in training.
  for (let i = 3; i < crop.data.length; i += 4) crop.data[i] = 255;
  const crops = imageToGarTensor(crop);
  try {
    return { estimate: encoder.estimate(crops)[0], cropFromImage };
  } finally {
    crops.dispose();
  }
}

/** The photo camera of a crop-frame pose estimated in the crop `cropFromImage` cuts (sizePx² px) from an image of `imageSize`. */
function photoCameraOfEstimate(
  model: MorphableModel,
  pose: CropPose,
  cropFromImage: ReturnType<typeof faceCropTransform>,
  sizePx: number,
  imageSize: { width: number; height: number },
) {
  const frame = createCropFrame(model, sizePx, applyAffine2D(cropFromImage, imageSize.width / 2, imageSize.height / 2));
  return cropCameraToPhoto(cropPoseToCamera(pose, frame), cropFromImage);
}

/**
 * [N*2] photo px: the estimate's vertices `vertexIndices` (default: the ones the fit's landmark
 * term follows) projected through its camera (principal point = the image centre).
 */
export function estimateLandmarks(
  model: MorphableModel,
  estimate: EncoderEstimate,
  cropFromImage: ReturnType<typeof faceCropTransform>,
  sizePx: number,
  imageSize: { width: number; height: number },
  vertexIndices: ArrayLike<number> = defaultLandmarkVertices(model),
): Float32Array {
  const camera = photoCameraOfEstimate(model, estimate.pose, cropFromImage, sizePx, imageSize);
  const coefficients = new Float32Array(estimate.identity.length + estimate.expression.length);
  coefficients.set(estimate.identity);
  coefficients.set(estimate.expression, estimate.identity.length);
  const points = transformPointsArray(evaluateVertices(model, coefficients, vertexIndices), camera.rotation, camera.translationMm);
  return projectPointsArray(points, {
    focalPx: camera.focalPx,
    principalPointPx: [imageSize.width / 2, imageSize.height / 2],
    width: imageSize.width,
    height: imageSize.height,
  });
}

/**
 * Choose the landmarks of one face for a fit that has a shape encoder: estimate on the crop the
 * detector's points align, judge those points (assessDetectorLandmarks, with the estimate's yaw),
 * and where they are unreliable put in the points the estimate implies. The estimate comes back in
 * the frame of the crop the chosen landmarks align, so a fit that cuts its crops from them can
 * start from it. One encoder pass for a reliable face; 1 + cropRefinements otherwise.
 */
export function chooseFitLandmarks(
  model: MorphableModel,
  encoder: FaceEncoder,
  image: RgbaImage,
  evidence: DetectorLandmarkEvidence,
  options: LandmarkGateOptions = {},
): LandmarkChoice {
  const sizePx = encoder.config.resolution;
  let { estimate, cropFromImage } = estimateFromLandmarks(encoder, image, evidence.landmarks68);
  const assessment = assessDetectorLandmarks(evidence, (estimate.pose.eulerRad[1] * 180) / Math.PI, options.reliability);
  if (assessment.source === 'facemesh') return { landmarks68: evidence.landmarks68, source: 'facemesh', assessment, estimate, encoderPasses: 1 };
  const implied = () => {
    const fromEncoder = estimateLandmarks(model, estimate, cropFromImage, sizePx, image, options.landmarkVertices);
    if (options.averageReplaced) for (let i = 0; i < 136; i++) fromEncoder[i] = 0.5 * (fromEncoder[i] + evidence.landmarks68[i]);
    return blendLandmarks(evidence.landmarks68, fromEncoder, assessment.keepDetector);
  };
  let landmarks68 = implied();
  const refinements = options.cropRefinements ?? 0;
  for (let i = 0; i < refinements; i++) {
    ({ estimate, cropFromImage } = estimateFromLandmarks(encoder, image, landmarks68));
    landmarks68 = implied();
  }
  // The same camera seen from the crop the chosen landmarks cut.
  const photoCamera = photoCameraOfEstimate(model, estimate.pose, cropFromImage, sizePx, image);
  const moved = cropPoseOfPhotoFit(
    model,
    { ...photoCamera, principalPointPx: [image.width / 2, image.height / 2] },
    faceCropTransform(landmarks68, sizePx),
    sizePx,
  );
  return { landmarks68, source: assessment.source, assessment, estimate: { ...estimate, pose: moved.pose }, encoderPasses: 1 + refinements };
}
