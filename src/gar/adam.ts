// facegar's one Adam: the update rule and its bias-corrected step size written once, applied to
// tensors (AdamOptimizer: training, GAR refinement) or to flat Float32Arrays (adamStepFlat: the
// data-parallel benchmark, where every worker must compute bit-identical weights in plain JS).
// The fit's landmark and photometric stages use TF.js's tf.train.adam (their tuned numbers).
import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';

export interface AdamConfig {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export const DEFAULT_ADAM_CONFIG: AdamConfig = { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

export function validateAdamConfig(config: AdamConfig): AdamConfig {
  const { learningRate, beta1, beta2, epsilon } = config;
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) throw invalidParameterError('adam.learningRate', 'a positive number', learningRate);
  if (!(beta1 >= 0 && beta1 < 1)) throw invalidParameterError('adam.beta1', 'a number in [0, 1)', beta1);
  if (!(beta2 >= 0 && beta2 < 1)) throw invalidParameterError('adam.beta2', 'a number in [0, 1)', beta2);
  if (!(epsilon > 0)) throw invalidParameterError('adam.epsilon', 'a positive number', epsilon);
  return config;
}

/** The learning rate of step `step` (1-based) with Adam's bias correction folded in. */
export function adamStepSize(config: AdamConfig, step: number, learningRateScale = 1): number {
  return (config.learningRate * learningRateScale * Math.sqrt(1 - config.beta2 ** step)) / (1 - config.beta1 ** step);
}

/**
 * Adam over a fixed list of named variables, with its state (moments, step count) readable
 * and writable, so checkpoints resume bit-for-bit (tf.train.adam's state is keyed by
 * variable names that differ between processes).
 */
export class AdamOptimizer {
  readonly config: AdamConfig;
  readonly names: string[];
  private readonly variables: tf.Variable[];
  readonly m: tf.Variable[];
  readonly v: tf.Variable[];
  step = 0;

  constructor(parameters: [string, tf.Variable][], config: AdamConfig) {
    this.config = config;
    this.names = parameters.map(([name]) => name);
    this.variables = parameters.map(([, v]) => v);
    this.m = this.variables.map((v) => tf.variable(tf.zerosLike(v), false));
    this.v = this.variables.map((v) => tf.variable(tf.zerosLike(v), false));
  }

  /** Apply gradients given in the same order as the parameters (undefined = no gradient this step). */
  apply(gradients: (tf.Tensor | undefined)[], learningRateScale = 1): void {
    this.step++;
    const { beta1, beta2, epsilon } = this.config;
    const lr = adamStepSize(this.config, this.step, learningRateScale);
    tf.tidy(() => {
      gradients.forEach((g, i) => {
        if (!g) return;
        const m = tf.add(tf.mul(this.m[i], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[i], beta2), tf.mul(tf.square(g), 1 - beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        this.variables[i].assign(tf.sub(this.variables[i], tf.mul(lr, tf.div(m, tf.add(tf.sqrt(v), epsilon)))));
      });
    });
  }

  /** Moments as (name, variable) pairs for checkpoints: "<param>.m", "<param>.v". */
  namedState(): [string, tf.Variable][] {
    return this.names.flatMap(
      (name, i) =>
        [
          [`${name}.m`, this.m[i]],
          [`${name}.v`, this.v[i]],
        ] as [string, tf.Variable][],
    );
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}

/** First and second moment estimates and the step count of adamStepFlat, one float per parameter. */
export interface AdamState {
  m: Float32Array;
  v: Float32Array;
  step: number;
}

export function createAdamState(parameterCount: number): AdamState {
  return { m: new Float32Array(parameterCount), v: new Float32Array(parameterCount), step: 0 };
}

/** One Adam step on flat arrays, in place on `weights` and `state` (the same rule as AdamOptimizer.apply). */
export function adamStepFlat(weights: Float32Array, gradient: Float32Array, state: AdamState, config: AdamConfig): void {
  const { beta1, beta2, epsilon } = config;
  state.step += 1;
  const stepSize = adamStepSize(config, state.step);
  const { m, v } = state;
  for (let i = 0; i < weights.length; i++) {
    const g = gradient[i]!;
    m[i] = beta1 * m[i]! + (1 - beta1) * g;
    v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
    weights[i] = weights[i]! - (stepSize * m[i]!) / (Math.sqrt(v[i]!) + epsilon);
  }
}

/** ema ← β·ema + (1 − β)·source for every pair of variables (same order); buffers (non-trainable) are copied. */
export function updateEma(ema: tf.Variable[], source: tf.Variable[], beta: number): void {
  tf.tidy(() => {
    ema.forEach((e, i) => e.assign(source[i].trainable ? tf.add(tf.mul(e, beta), tf.mul(source[i], 1 - beta)) : source[i]));
  });
}
