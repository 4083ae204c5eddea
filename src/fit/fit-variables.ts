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
  /** Identity coefficients held fixed (lockIdentity), the first of `coefficients`; undefined = free. */
  private lockedIdentity: Float32Array | undefined;

  /** Hold the pose and focal length at `values` from now on: the stages call restoreLocked after each step. */
  lockPose(values: PoseVariableValues): void {
    this.lockedPose = values;
    this.restoreLocked();
  }

  /**
   * Hold the identity coefficients (the first `identity.length` of `coefficients`) at `identity`
   * from now on, as for one person seen in several photos; expression stays free.
   */
  lockIdentity(identity: Float32Array): void {
    if (identity.length > this.coefficients.shape[0] || !identity.every(Number.isFinite))
      throw new RangeError(`lockIdentity: expected at most ${this.coefficients.shape[0]} finite coefficients, got ${identity.length}`);
    this.lockedIdentity = identity;
    this.restoreLocked();
  }

  /** Start the identity coefficients (the first `identity.length` of `coefficients`) at `identity`; they stay free. */
  setIdentity(identity: Float32Array): void {
    if (identity.length > this.coefficients.shape[0] || !identity.every(Number.isFinite))
      throw new RangeError(`setIdentity: expected at most ${this.coefficients.shape[0]} finite coefficients, got ${identity.length}`);
    tf.tidy(() => {
      const rest = tf.slice(this.coefficients, [identity.length], [this.coefficients.shape[0] - identity.length]);
      this.coefficients.assign(tf.concat([tf.tensor1d(identity), rest]));
    });
  }

  /** Put a locked pose and identity back after an optimiser step moved them (no-op when both are free). */
  restoreLocked(): void {
    const pose = this.lockedPose,
      identity = this.lockedIdentity;
    tf.tidy(() => {
      if (pose) {
        this.angles.assign(tf.tensor1d(pose.angles));
        this.direction.assign(tf.tensor1d(pose.direction));
        this.logDepth.assign(tf.scalar(pose.logDepth));
        this.logFocal.assign(tf.scalar(pose.logFocal));
      }
      if (identity) {
        const rest = tf.slice(this.coefficients, [identity.length], [this.coefficients.shape[0] - identity.length]);
        this.coefficients.assign(tf.concat([tf.tensor1d(identity), rest]));
      }
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
