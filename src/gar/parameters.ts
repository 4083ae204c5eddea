import * as tf from '@tensorflow/tfjs-core';

/** Anything that owns weights: a layer or a network of layers. */
export interface ParameterOwner {
  /** (name, variable) pairs, names dotted from the owner down, e.g. "b8.conv0.weight". */
  namedParameters(): [string, tf.Variable][];
  /** One-line summary of what the owner computes, with its shapes. */
  describe(): string;
}

/** A trainable variable initialised from a typed array (names are left to tfjs, so several models can coexist). */
export function createVariable(values: Float32Array, shape: number[], trainable = true): tf.Variable {
  return tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), trainable));
}

/** The parameters of child owners under `prefix.`, in a fixed order. */
export function prefixed(children: [string, ParameterOwner][]): [string, tf.Variable][] {
  return children.flatMap(([prefix, child]) => child.namedParameters().map(([name, v]) => [`${prefix}.${name}`, v] as [string, tf.Variable]));
}

/** Number of scalar weights of an owner. */
export function parameterCount(owner: ParameterOwner): number {
  return owner.namedParameters().reduce((sum, [, v]) => sum + v.size, 0);
}

/** Dispose every variable of an owner. */
export function disposeParameters(owner: ParameterOwner): void {
  for (const [, v] of owner.namedParameters()) v.dispose();
}

/** Leaky ReLU (slope 0.2) with StyleGAN's gain √2, so activations keep unit variance. */
export function leakyReluGain(x: tf.Tensor, gain = Math.SQRT2): tf.Tensor {
  return tf.mul(tf.leakyRelu(x, 0.2), gain);
}
