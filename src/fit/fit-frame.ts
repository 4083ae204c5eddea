import type { MorphableModel } from '../morphable/morphable-model.ts';
import type { FitFrame } from './landmark-stage.ts';

// iBUG-68 indices used to set up the frame.
const NOSE_BRIDGE_TOP = 27;
const CHIN = 8;

/**
 * Camera priors and the initial pose of one photo from its detected landmarks [68*2] (px):
 * the depth that makes the mean face's bridge-to-chin length match the photo's, and the
 * image direction of the landmark centroid.
 */
export function createFitFrame(
  model: MorphableModel,
  landmarks68: Float32Array,
  imageSize: { width: number; height: number },
  focalPriorPerImageSide: number,
): { frame: FitFrame; direction: [number, number] } {
  const focalPriorPx = focalPriorPerImageSide * Math.max(imageSize.width, imageSize.height);
  const principalPointPx: [number, number] = [imageSize.width / 2, imageSize.height / 2];
  const pivot: [number, number, number] = [0, 0, 0];
  const landmark3d = (k: number) => {
    const v = model.landmarkVertexIndices[k] * 3;
    return [model.neutral[v], model.neutral[v + 1], model.neutral[v + 2]];
  };
  for (let k = 0; k < 68; k++) {
    const p = landmark3d(k);
    for (let a = 0; a < 3; a++) pivot[a] += p[a] / 68;
  }
  let meanU = 0,
    meanV = 0;
  for (let k = 0; k < 68; k++) {
    meanU += landmarks68[k * 2] / 68;
    meanV += landmarks68[k * 2 + 1] / 68;
  }
  const faceSizePx = landmarkBoxSizePx(landmarks68);
  const top = landmark3d(NOSE_BRIDGE_TOP),
    chin = landmark3d(CHIN);
  const length3dMm = Math.hypot(top[0] - chin[0], top[1] - chin[1], top[2] - chin[2]);
  const length2dPx = Math.max(
    1,
    Math.hypot(landmarks68[NOSE_BRIDGE_TOP * 2] - landmarks68[CHIN * 2], landmarks68[NOSE_BRIDGE_TOP * 2 + 1] - landmarks68[CHIN * 2 + 1]),
  );
  const initialDepthMm = (focalPriorPx * length3dMm) / length2dPx;
  const direction: [number, number] = [(meanU - principalPointPx[0]) / focalPriorPx, -(meanV - principalPointPx[1]) / focalPriorPx];
  return { frame: { focalPriorPx, principalPointPx, initialDepthMm, pivotMm: pivot, faceSizePx, shapePriorScale: 1 }, direction };
}

/** A first guess of yaw (radians) from where the nose tip sits between the outer eye corners. */
export function estimateYaw(landmarks68: Float32Array): number {
  const leftEye = landmarks68[36 * 2],
    rightEye = landmarks68[45 * 2],
    nose = landmarks68[30 * 2];
  const mid = (leftEye + rightEye) / 2;
  const half = Math.max(1, Math.abs(rightEye - leftEye) / 2);
  // Measured on the mean face: the nose tip shifts ~1.6 half-eye-widths per unit sin(yaw).
  const ratio = Math.max(-0.95, Math.min(0.95, (nose - mid) / half / 1.6));
  return Math.asin(ratio) * Math.sign(rightEye - leftEye || 1);
}

/** The bounding box of [68*2] landmarks (px). */
/** The landmark box's size, the geometric mean of its sides (each at least 1 px): the scale landmark residuals are divided by. */
export function landmarkBoxSizePx(landmarks68: Float32Array): number {
  const { minU, maxU, minV, maxV } = landmarkBounds(landmarks68);
  return Math.sqrt(Math.max(1, maxU - minU) * Math.max(1, maxV - minV));
}

export function landmarkBounds(landmarks68: Float32Array): { minU: number; maxU: number; minV: number; maxV: number } {
  let minU = Infinity,
    maxU = -Infinity,
    minV = Infinity,
    maxV = -Infinity;
  for (let k = 0; k < 68; k++) {
    const u = landmarks68[k * 2],
      v = landmarks68[k * 2 + 1];
    minU = Math.min(minU, u);
    maxU = Math.max(maxU, u);
    minV = Math.min(minV, v);
    maxV = Math.max(maxV, v);
  }
  return { minU, maxU, minV, maxV };
}
