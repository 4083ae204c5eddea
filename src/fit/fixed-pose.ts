import { eulerFromRotation } from '../geometry/rotation.ts';

/**
 * A head pose and focal length to hold fixed during a fit (diagnostics: the benchmark's
 * `true-pose` row fits with the true camera, so shape error and pose error can be told apart).
 * p_cam = rotation · p_model + translationMm, seen with `focalPx` about the fit's principal point.
 */
export interface FixedPose {
  /** Row-major 3×3. */
  rotation: ArrayLike<number>;
  translationMm: ArrayLike<number>;
  focalPx: number;
}

/** The values of FitVariables' pose variables (see FitVariables) that give a pose in a frame. */
export interface PoseVariableValues {
  angles: [number, number, number];
  direction: [number, number];
  logDepth: number;
  logFocal: number;
}

/**
 * The pose variables that make `currentPose(variables, frame)` return `pose` (frame: the fit's
 * FitFrame, landmark-stage.ts, or the parts of it used here): camera point =
 * R·(p − pivot) + (dx·D, dy·D, −D), so (dx·D, dy·D, −D) = t + R·pivot.
 */
export function poseVariableValues(pose: FixedPose, frame: { pivotMm: ArrayLike<number>; initialDepthMm: number; focalPriorPx: number }): PoseVariableValues {
  const r = pose.rotation,
    p = frame.pivotMm;
  const centre = [0, 1, 2].map((row) => pose.translationMm[row] + r[3 * row] * p[0] + r[3 * row + 1] * p[1] + r[3 * row + 2] * p[2]);
  const depth = -centre[2];
  if (!(depth > 0) || !(pose.focalPx > 0))
    throw new RangeError(`a fixed pose needs the face in front of the camera and a positive focal length (depth ${depth} mm, focal ${pose.focalPx} px)`);
  return {
    angles: eulerFromRotation(r),
    direction: [centre[0] / depth, centre[1] / depth],
    logDepth: Math.log(depth / frame.initialDepthMm),
    logFocal: Math.log(pose.focalPx / frame.focalPriorPx),
  };
}
