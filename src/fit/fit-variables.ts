import * as tf from '@tensorflow/tfjs-core';
import type { PoseVariableValues } from './fixed-pose.ts';

/**
 * Everything the fit optimises, as tf.Variables, in well-conditioned units:
 *   camera point = R(angles) · (model point − pivot) + (x_n·D, y_n·D, −D),  D = D0·exp(logDepth)
 *   focalPx = f0 · exp(logFocal)
 * so that one Adam learning rate suits all of them (angles in radians, the rest O(1)).
 */
export class FitVariables {
  /** [K+E] identity then expression coefficients. */
  readonly coefficients: tf.Variable<tf.Rank.R1>;
  /** [3] pitch, yaw, roll (radians). */
  readonly angles: tf.Variable<tf.Rank.R1>;
  /** [2] image-plane direction of the pivot, (x, y) / depth. */
  readonly direction: tf.Variable<tf.Rank.R1>;
  readonly logDepth: tf.Variable<tf.Rank.R0>;
  readonly logFocal: tf.Variable<tf.Rank.R0>;
  /** [9, 3] spherical-harmonics light per colour channel. */
  readonly light: tf.Variable<tf.Rank.R2>;
  /** [3] skin albedo, linear 0..1. */
  readonly albedo: tf.Variable<tf.Rank.R1>;

  constructor(init: { modeCount: number; yaw: number; direction: [number, number]; albedo?: [number, number, number] }) {
    // tidy frees the initial values; variables themselves survive it.
    const variable = <R extends tf.Rank>(make: () => tf.Tensor<R>) => tf.tidy(() => tf.variable(make())) as tf.Variable<R>;
    this.coefficients = variable(() => tf.zeros([init.modeCount]) as tf.Tensor1D);
    this.angles = variable(() => tf.tensor1d([0, init.yaw, 0]));
    this.direction = variable(() => tf.tensor1d(init.direction));
    this.logDepth = variable(() => tf.scalar(0));
    this.logFocal = variable(() => tf.scalar(0));
    const light = new Float32Array(27);
    light[0] = light[1] = light[2] = 1; // ambient only
    this.light = variable(() => tf.tensor2d(light, [9, 3]));
    this.albedo = variable(() => tf.tensor1d(init.albedo ?? [0.6, 0.45, 0.38]));
  }

  /** Pose values held fixed (lockPose), restored after every optimiser step; undefined = free. */
  private lockedPose: PoseVariableValues | undefined;

  /** Hold the pose and focal length at `values` from now on: the stages call restoreLockedPose after each step. */
  lockPose(values: PoseVariableValues): void {
    this.lockedPose = values;
    this.restoreLockedPose();
  }

  /** Put a locked pose back after an optimiser step moved it (no-op when the pose is free). */
  restoreLockedPose(): void {
    const locked = this.lockedPose;
    if (!locked) return;
    tf.tidy(() => {
      this.angles.assign(tf.tensor1d(locked.angles));
      this.direction.assign(tf.tensor1d(locked.direction));
      this.logDepth.assign(tf.scalar(locked.logDepth));
      this.logFocal.assign(tf.scalar(locked.logFocal));
    });
  }

  rigid(): tf.Variable[] {
    return [this.angles, this.direction, this.logDepth];
  }

  all(): tf.Variable[] {
    return [this.coefficients, this.angles, this.direction, this.logDepth, this.logFocal, this.light, this.albedo];
  }

  dispose(): void {
    tf.dispose(this.all());
  }
}
