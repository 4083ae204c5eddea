import * as tf from '@tensorflow/tfjs-core';

export interface AdamConfig {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
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
    const lr = this.config.learningRate * learningRateScale * Math.sqrt(1 - beta2 ** this.step) / (1 - beta1 ** this.step);
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
    return this.names.flatMap((name, i) => [[`${name}.m`, this.m[i]], [`${name}.v`, this.v[i]]] as [string, tf.Variable][]);
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}

/** ema ← β·ema + (1 − β)·source for every pair of variables (same order); buffers (non-trainable) are copied. */
export function updateEma(ema: tf.Variable[], source: tf.Variable[], beta: number): void {
  tf.tidy(() => {
    ema.forEach((e, i) => e.assign(source[i].trainable ? tf.add(tf.mul(e, beta), tf.mul(source[i], 1 - beta)) : source[i]));
  });
}
