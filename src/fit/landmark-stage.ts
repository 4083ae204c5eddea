import * as tf from '@tensorflow/tfjs-core';
import type { FitConfig } from './fit-config.ts';
import type { FitVariables } from './fit-variables.ts';
import type { ModelTensors } from './model-tensors.ts';
import { rotationFromEuler } from '../geometry/rotation.ts';
import type { LandmarkCorrespondence } from './contour-landmarks.ts';
import type { DenseLandmarkTerm } from './dense-landmarks.ts';
import { focalTensor, toCameraSpace, type FitFrame } from './fit-camera.ts';
import { projectToPixels } from '../geometry/camera.ts';

// The camera model shared with dense-landmarks.ts lives in fit-camera.ts (no import cycle); re-exported for the stages.
export { focalTensor, toCameraSpace, type FitFrame } from './fit-camera.ts';

/** Stop when the loss fell by less than this fraction over the last CONVERGENCE_WINDOW steps. */
const CONVERGENCE_TOLERANCE = 2e-3;
const CONVERGENCE_WINDOW = 25;

/** `freeSteps` counts the steps since all variables were freed (the rigid phase never stops early). */
function hasConverged(history: number[], freeSteps: number): boolean {
  if (freeSteps < 2 * CONVERGENCE_WINDOW) return false;
  const now = history[history.length - 1];
  const before = history[history.length - 1 - CONVERGENCE_WINDOW];
  return before - now < CONVERGENCE_TOLERANCE * before;
}

/** Steps between re-picks of the sliding jaw contour. */
export const CONTOUR_UPDATE_INTERVAL = 10;

/** Per-landmark weights: the 17 contour points count less; eyes and mouth corners count more. */
export function landmarkWeights(contourWeight: number): Float32Array {
  const weights = new Float32Array(68).fill(1);
  for (let i = 0; i <= 16; i++) weights[i] = contourWeight;
  for (const i of [36, 39, 42, 45, 48, 54, 30]) weights[i] = 2;
  return weights;
}

/** Projected landmarks [68, 2] in original-image pixels. */
export function projectLandmarks(correspondence: LandmarkCorrespondence, variables: FitVariables, frame: FitFrame): tf.Tensor2D {
  return tf.tidy(() =>
    projectToPixels(toCameraSpace(correspondence.vertices(variables.coefficients), variables, frame), focalTensor(variables, frame), frame.principalPointPx),
  );
}

/** The variables' pose as plain numbers: p_cam = R p + t (R row-major [9], t mm), and the focal length. */
export function currentPose(variables: FitVariables, frame: FitFrame): { rotation: Float64Array; translationMm: [number, number, number]; focalPx: number } {
  const [pitch, yaw, roll] = Array.from(variables.angles.dataSync());
  const rotation = rotationFromEuler(pitch, yaw, roll);
  const depth = frame.initialDepthMm * Math.exp(variables.logDepth.dataSync()[0]);
  const [dx, dy] = Array.from(variables.direction.dataSync());
  const pivot = frame.pivotMm;
  const translationMm: [number, number, number] = [dx * depth, dy * depth, -depth];
  for (let row = 0; row < 3; row++) {
    translationMm[row] -= rotation[3 * row] * pivot[0] + rotation[3 * row + 1] * pivot[1] + rotation[3 * row + 2] * pivot[2];
  }
  return { rotation, translationMm, focalPx: frame.focalPriorPx * Math.exp(variables.logFocal.dataSync()[0]) };
}

/** Re-pick the sliding jaw-contour vertices for the current fit. */
export function updateContour(correspondence: LandmarkCorrespondence, variables: FitVariables, frame: FitFrame): void {
  const { rotation, translationMm, focalPx } = currentPose(variables, frame);
  correspondence.update(variables.coefficients.dataSync() as Float32Array, rotation, translationMm, { focalPx, principalPointPx: frame.principalPointPx });
}

/** Landmark loss + priors, dimensionless. `detected` [68, 2] px, `weights` [68]. */
export function landmarkLoss(
  models: ModelTensors,
  correspondence: LandmarkCorrespondence,
  variables: FitVariables,
  frame: FitFrame,
  detected: tf.Tensor2D,
  weights: tf.Tensor1D,
  config: FitConfig,
  dense?: DenseLandmarkTerm,
): tf.Scalar {
  return tf.tidy(() => {
    const projected = projectLandmarks(correspondence, variables, frame);
    const residual = tf.div(tf.sub(projected, detected), frame.faceSizePx);
    const perPoint = tf.sum(tf.square(residual), 1);
    const data = tf.div(tf.sum(tf.mul(perPoint, weights)), tf.sum(weights));
    const terms = [tf.mul(config.landmarkWeight, data), priorLoss(models, variables, config, frame)];
    if (dense && config.denseLandmarkWeight > 0) terms.push(tf.mul(config.denseLandmarkWeight, dense.loss(variables, frame)));
    return tf.addN(terms) as tf.Scalar;
  });
}

/** Gaussian priors on identity and expression, and on log focal (centres and scales from `frame`). */
export function priorLoss(
  models: ModelTensors,
  variables: FitVariables,
  config: FitConfig,
  frame: Pick<FitFrame, 'shapePriorScale' | 'identityPrior' | 'logFocalPriorMean'> = {},
): tf.Scalar {
  return tf.tidy(() => {
    const shapePriorScale = frame.shapePriorScale ?? 1;
    const identity = tf.slice(variables.coefficients, [0], [models.identityCount]);
    const expression = tf.slice(variables.coefficients, [models.identityCount], [models.expressionCount]);
    const prior = frame.identityPrior;
    const identityTerm = prior
      ? tf.sum(tf.mul(tf.tensor1d(prior.precision), tf.square(tf.sub(identity, tf.tensor1d(prior.mean)))))
      : tf.sum(tf.square(identity));
    return tf.addN([
      tf.mul(config.identityPriorWeight * shapePriorScale, identityTerm),
      tf.mul(config.expressionPriorWeight * shapePriorScale, tf.sum(tf.square(expression))),
      tf.mul(config.focalPriorWeight, tf.square(tf.sub(variables.logFocal, frame.logFocalPriorMean ?? 0))),
    ]) as tf.Scalar;
  });
}

/** Expression weights live in [0, 1]: project after every step. */
export function clampExpression(models: ModelTensors, variables: FitVariables): void {
  tf.tidy(() => {
    const identity = tf.slice(variables.coefficients, [0], [models.identityCount]);
    const expression = tf.clipByValue(tf.slice(variables.coefficients, [models.identityCount], [models.expressionCount]), 0, 1);
    variables.coefficients.assign(tf.concat([identity, expression]));
  });
}

/**
 * Landmark-only fitting: first the rigid pose alone (a third of the steps), then everything but
 * light and albedo. Returns the loss after each step.
 */
export function runLandmarkStage(
  models: ModelTensors,
  correspondence: LandmarkCorrespondence,
  variables: FitVariables,
  frame: FitFrame,
  detected: Float32Array,
  config: FitConfig,
  onStep?: (step: number, total: number) => void,
  dense?: DenseLandmarkTerm,
): number[] {
  const history: number[] = [];
  const detectedTensor = tf.tensor2d(detected, [68, 2]);
  const weights = tf.tensor1d(landmarkWeights(config.contourLandmarkWeight));
  const rigidSteps = Math.round(config.landmarkSteps / 3);
  const optimizer = tf.train.adam(config.learningRate);
  const rigidOptimizer = tf.train.adam(config.learningRate * 2);
  const free = [variables.coefficients, variables.angles, variables.direction, variables.logDepth, variables.logFocal];
  try {
    for (let step = 0; step < config.landmarkSteps; step++) {
      const rigid = step < rigidSteps;
      if (step === rigidSteps) {
        const yaw = variables.angles.dataSync()[1];
        frame.shapePriorScale = 1 + config.turnedFacePriorGain * Math.sin(yaw) ** 2;
      }
      if (step >= rigidSteps / 2 && step % CONTOUR_UPDATE_INTERVAL === 0) updateContour(correspondence, variables, frame);
      const loss = (rigid ? rigidOptimizer : optimizer).minimize(
        () => landmarkLoss(models, correspondence, variables, frame, detectedTensor, weights, config, rigid ? undefined : dense),
        true,
        rigid ? variables.rigid() : free,
      ) as tf.Scalar;
      history.push(loss.dataSync()[0]);
      loss.dispose();
      variables.restoreLocked();
      if (!rigid) clampExpression(models, variables);
      onStep?.(step + 1, config.landmarkSteps);
      if (!rigid && hasConverged(history, step - rigidSteps)) {
        onStep?.(config.landmarkSteps, config.landmarkSteps);
        break;
      }
    }
  } finally {
    tf.dispose([detectedTensor, weights]);
    optimizer.dispose();
    rigidOptimizer.dispose();
  }
  return history;
}
