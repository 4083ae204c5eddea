import * as tf from '@tensorflow/tfjs-core';
import type { FitVariables } from './fit-variables.ts';
import { rotationMatrixTensor } from '../geometry/rotation.ts';

/** Fixed parts of one photo's fit: camera priors and the pivot the pose rotates about. */
export interface FitFrame {
  /** Prior focal length f0 (px) and the principal point (px) of the original image. */
  focalPriorPx: number;
  principalPointPx: [number, number];
  /** Initial depth D0 (mm) of the pivot. */
  initialDepthMm: number;
  /** [3] mm: the mean face's landmark centroid; the pose rotates about it. */
  pivotMm: [number, number, number];
  /** Face size in pixels (geometric mean of the landmark box sides); landmark errors are divided by it. */
  faceSizePx: number;
  /**
   * Multiplies the shape priors once the head's turn is known: detectors place landmarks less
   * reliably on turned faces, so the fit trusts the model's prior more there. Set after the
   * rigid phase (1 until then, and when absent).
   */
  shapePriorScale?: number;
  /**
   * Where the identity prior is centred, and how tightly per mode: Σ precision_k (α_k − mean_k)².
   * Absent: the model's own prior, N(0, 1) per mode (mean 0, precision 1). A shape encoder's
   * estimate with its per-mode error on held-out renders (precision = 1 / error²) takes its place,
   * so the landmarks move identity only where they say more than the encoder did.
   */
  identityPrior?: { mean: Float32Array; precision: Float32Array };
  /** Centre of the log-focal prior (log of focal / focalPriorPx). Default 0. */
  logFocalPriorMean?: number;
}

/** Model-space points [N, 3] → camera space [N, 3] under the variables' pose. */
export function toCameraSpace(points: tf.Tensor2D, variables: FitVariables, frame: FitFrame): tf.Tensor2D {
  return tf.tidy(() => {
    const rotation = rotationMatrixTensor(variables.angles);
    const depth = tf.mul(frame.initialDepthMm, tf.exp(variables.logDepth));
    const [dx, dy] = tf.unstack(variables.direction);
    const translation = tf.stack([tf.mul(dx, depth), tf.mul(dy, depth), tf.neg(depth)]);
    const centred = tf.sub(points, tf.tensor1d(frame.pivotMm));
    return tf.add(tf.matMul(centred, rotation, false, true), translation) as tf.Tensor2D;
  });
}

export function focalTensor(variables: FitVariables, frame: FitFrame): tf.Scalar {
  return tf.tidy(() => tf.mul(frame.focalPriorPx, tf.exp(variables.logFocal)));
}
