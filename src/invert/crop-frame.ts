// The parameterisation shared by the encoder and the GAR refinement: a face seen in an aligned
// crop (alignFaceCrop / GeometrySampler framing), posed about a fixed pivot, with focal length
// and depth as log offsets from reference values of the crop frame.
import * as tf from '@tensorflow/tfjs-core';
import { eulerFromRotation, rotationFromEuler, rotationMatrixTensor } from '../geometry/rotation.ts';
import { projectPointsArray, transformPointsArray, type PinholeCamera } from '../geometry/camera.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { applyAffine2D, type Affine2D } from '../common/image.ts';
import type { SampledGeometry } from '../gar/geometry-sampler.ts';

/**
 * Fixed numbers of one aligned crop. Camera space of the crop: +x right, +y up, looking down −z;
 * a model point p lands at  R(angles)·(p − pivot) + (dx·D, dy·D, −D),  D = depthRefMm·exp(logDepth),
 * seen with focal f = focalRefPx·exp(logFocal) and principal point `principalPointPx` (crop px).
 * The same formula as fit/landmark-stage.ts `toCameraSpace`, so FitVariables drive it too.
 */
export interface CropFrame {
  /** Crop side, pixels. */
  sizePx: number;
  focalRefPx: number;
  depthRefMm: number;
  /** Principal point in crop pixels (the photo's optical centre mapped into the crop). */
  principalPointPx: [number, number];
  /** [3] mm, the mean face's landmark centroid. */
  pivotMm: [number, number, number];
}

/**
 * Focal reference per crop side: the median GeometrySampler framing gives at 600 mm
 * (measured over 200 samples: median 2.26, range 1.88–3.09).
 */
export const CROP_FOCAL_PER_SIDE = 2.26;
/** Depth reference, mm: GeometrySampler's default camera distance. */
export const CROP_DEPTH_REF_MM = 600;

/** The mean face's landmark centroid (mm), the pivot poses turn about (as fit/fit-frame.ts). */
export function landmarkPivotMm(model: MorphableModel): [number, number, number] {
  const pivot: [number, number, number] = [0, 0, 0];
  for (const v of model.landmarkVertexIndices) for (let a = 0; a < 3; a++) pivot[a] += model.neutral[3 * v + a] / 68;
  return pivot;
}

/** The crop frame for a `sizePx` crop; principal point default: the crop centre. */
export function createCropFrame(model: MorphableModel, sizePx: number, principalPointPx: [number, number] = [sizePx / 2, sizePx / 2]): CropFrame {
  return { sizePx, focalRefPx: CROP_FOCAL_PER_SIDE * sizePx, depthRefMm: CROP_DEPTH_REF_MM, principalPointPx, pivotMm: landmarkPivotMm(model) };
}

/** Pose and camera in crop-frame units. `pivotPx` is where the pivot projects, as (u/S − ½, v/S − ½). */
export interface CropPose {
  /** [pitch, yaw, roll] radians in the crop's camera space. */
  eulerRad: [number, number, number];
  pivotPx: [number, number];
  logFocal: number;
  logDepth: number;
}

/** Plain numbers of a pose: p_cam = R p + t, the focal length, and the pose's direction vector. */
export function cropPoseToCamera(
  pose: CropPose,
  frame: CropFrame,
): { rotation: Float64Array; translationMm: [number, number, number]; focalPx: number; direction: [number, number] } {
  const focalPx = frame.focalRefPx * Math.exp(pose.logFocal);
  const depth = frame.depthRefMm * Math.exp(pose.logDepth);
  const direction = pivotDirection(pose.pivotPx, focalPx, frame);
  const rotation = rotationFromEuler(...pose.eulerRad);
  const [px, py, pz] = frame.pivotMm;
  const t: [number, number, number] = [direction[0] * depth, direction[1] * depth, -depth];
  for (let r = 0; r < 3; r++) t[r] -= rotation[3 * r] * px + rotation[3 * r + 1] * py + rotation[3 * r + 2] * pz;
  return { rotation, translationMm: t, focalPx, direction };
}

/** (x, y)/depth of the pivot from its pixel position (normalised as in CropPose.pivotPx). */
export function pivotDirection(pivotPx: [number, number], focalPx: number, frame: CropFrame): [number, number] {
  const u = (pivotPx[0] + 0.5) * frame.sizePx,
    v = (pivotPx[1] + 0.5) * frame.sizePx;
  return [(u - frame.principalPointPx[0]) / focalPx, -(v - frame.principalPointPx[1]) / focalPx];
}

/**
 * The crop pose of a sampled geometry (its frame must carry the sample's principal point and
 * size). The sampler turns the head about the optical axis after posing it; that turn is
 * folded into roll here, measured from the camera-space vertices.
 */
export function cropPoseOfSample(
  model: MorphableModel,
  sample: Pick<SampledGeometry, 'eulerRad' | 'camera' | 'verticesCamera'>,
  modelVertices: Float32Array,
  frame: CropFrame,
): CropPose {
  const posed = transformPointsArray(modelVertices, rotationFromEuler(...sample.eulerRad), [0, 0, 0]);
  let cross = 0,
    dot = 0;
  const camera = sample.verticesCamera;
  for (let i = 0; i < posed.length; i += 3) {
    cross += posed[i] * camera[i + 1] - posed[i + 1] * camera[i];
    dot += posed[i] * camera[i] + posed[i + 1] * camera[i + 1];
  }
  const eulerRad: [number, number, number] = [sample.eulerRad[0], sample.eulerRad[1], sample.eulerRad[2] + Math.atan2(cross, dot)];
  const rotation = rotationFromEuler(...eulerRad);
  // t from one vertex: camera = R·p + t.
  const t = [0, 1, 2].map(
    (r) => camera[r] - (rotation[3 * r] * modelVertices[0] + rotation[3 * r + 1] * modelVertices[1] + rotation[3 * r + 2] * modelVertices[2]),
  );
  return cropPoseOfCamera(eulerRad, rotation, t, sample.camera.focalPx, frame);
}

/** The crop pose of p_cam = rotation · p + translation seen with `focalPx` in `frame`. */
function cropPoseOfCamera(
  eulerRad: [number, number, number],
  rotation: ArrayLike<number>,
  translationMm: ArrayLike<number>,
  focalPx: number,
  frame: CropFrame,
): CropPose {
  const pivotCamera = transformPointsArray(frame.pivotMm, rotation, translationMm);
  const [u, v] = projectPointsArray(pivotCamera, cropCamera(frame, focalPx));
  return {
    eulerRad,
    pivotPx: [u / frame.sizePx - 0.5, v / frame.sizePx - 0.5],
    logFocal: Math.log(focalPx / frame.focalRefPx),
    logDepth: Math.log(-pivotCamera[2] / frame.depthRefMm),
  };
}

/**
 * A camera-space pose turned by `angleRad` about the optical axis (z): what a crop that is a
 * similarity of a photo does to the camera. Returns the turned rotation and translation.
 */
export function turnAboutOpticalAxis(
  rotation: ArrayLike<number>,
  translationMm: ArrayLike<number>,
  angleRad: number,
): { rotation: Float64Array; translationMm: [number, number, number] } {
  const cos = Math.cos(angleRad),
    sin = Math.sin(angleRad);
  const turned = new Float64Array(9);
  for (let column = 0; column < 3; column++) {
    const x = rotation[column],
      y = rotation[3 + column];
    turned[column] = cos * x - sin * y;
    turned[3 + column] = sin * x + cos * y;
    turned[6 + column] = rotation[6 + column];
  }
  const tx = translationMm[0],
    ty = translationMm[1],
    tz = translationMm[2];
  return { rotation: turned, translationMm: [cos * tx - sin * ty, sin * tx + cos * ty, tz] };
}

/** The in-plane angle (radians, image convention) and scale of a similarity `cropFromImage`. */
export function similarityTurnAndScale(cropFromImage: Affine2D): { turnRad: number; scale: number } {
  return { turnRad: Math.atan2(cropFromImage.c, cropFromImage.a), scale: Math.hypot(cropFromImage.a, cropFromImage.c) };
}

/**
 * A camera in a crop's pixels (p_cam = R p + t, focal length in crop px, principal point = the
 * photo's centre mapped into the crop) seen from the photo the crop is a similarity of: the pose
 * turned back about the optical axis by the crop's in-plane angle, focal length in photo px.
 */
export function cropCameraToPhoto(
  camera: { rotation: ArrayLike<number>; translationMm: ArrayLike<number>; focalPx: number },
  cropFromImage: Affine2D,
): { rotation: Float64Array; translationMm: [number, number, number]; focalPx: number } {
  const { turnRad, scale } = similarityTurnAndScale(cropFromImage);
  return { ...turnAboutOpticalAxis(camera.rotation, camera.translationMm, turnRad), focalPx: camera.focalPx / scale };
}

/** A pose and camera in a photo's pixels (the graphics fit's FaceFit fields). */
export interface PhotoPose {
  /** Row-major 3×3: p_camera = rotation · p_model + translationMm. */
  rotation: ArrayLike<number>;
  translationMm: [number, number, number];
  focalPx: number;
  principalPointPx: [number, number];
}

/**
 * The crop frame and crop pose of a face fitted in a photo, for a crop that is a similarity of
 * the photo (`cropFromImage`, as alignFaceCrop returns): the crop's camera is the photo's turned
 * about the optical axis by the crop's in-plane angle, with focal length scaled like the pixels.
 * The inverse of what api/gar-face.ts does to bring a crop fit back to the photo.
 */
export function cropPoseOfPhotoFit(model: MorphableModel, fit: PhotoPose, cropFromImage: Affine2D, sizePx: number): { frame: CropFrame; pose: CropPose } {
  const { turnRad, scale } = similarityTurnAndScale(cropFromImage);
  // The inverse of api/gar-face.ts's crop → photo turn.
  const { rotation, translationMm } = turnAboutOpticalAxis(fit.rotation, fit.translationMm, -turnRad);
  const frame = createCropFrame(model, sizePx, applyAffine2D(cropFromImage, fit.principalPointPx[0], fit.principalPointPx[1]));
  return { frame, pose: cropPoseOfCamera(eulerFromRotation(rotation), rotation, translationMm, fit.focalPx * scale, frame) };
}

/** Pose tensors (batched or not) in crop-frame units; see CropFrame for the formula. */
export interface CropPoseTensors {
  /** [3] radians. */
  angles: tf.Tensor1D;
  /** [2] (x, y)/depth of the pivot. */
  direction: tf.Tensor1D;
  logDepth: tf.Scalar;
  logFocal: tf.Scalar;
}

/** Model-space points [N, 3] → crop camera space [N, 3], differentiable in every pose tensor. */
export function cropCameraPoints(points: tf.Tensor2D, pose: CropPoseTensors, frame: CropFrame): tf.Tensor2D {
  return tf.tidy(() => {
    const rotation = rotationMatrixTensor(pose.angles);
    const depth = tf.mul(frame.depthRefMm, tf.exp(pose.logDepth));
    const [dx, dy] = tf.unstack(pose.direction);
    const translation = tf.stack([tf.mul(dx, depth), tf.mul(dy, depth), tf.neg(depth)]);
    return tf.add(tf.matMul(tf.sub(points, tf.tensor1d(frame.pivotMm)), rotation, false, true), translation) as tf.Tensor2D;
  });
}

/** Focal length tensor (crop px). */
export function cropFocal(pose: Pick<CropPoseTensors, 'logFocal'>, frame: CropFrame): tf.Scalar {
  return tf.tidy(() => tf.mul(frame.focalRefPx, tf.exp(pose.logFocal)));
}

/** The crop camera for plain-JS projection. */
export function cropCamera(frame: CropFrame, focalPx: number): PinholeCamera {
  return { focalPx, principalPointPx: frame.principalPointPx, width: frame.sizePx, height: frame.sizePx };
}
