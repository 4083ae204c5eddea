// Shared by the engine tests: seeded inputs and a cpu-vs-wasm comparison.
import * as tf from '@tensorflow/tfjs-core';
import { SeededRandom } from '../../src/common/seeded-random.ts';

/** Seeded uniform values in [−1, 1) from the project's PRNG (state `seed` as given), so failures reproduce. */
export function randomValues(size: number, seed: number): Float32Array {
  const random = SeededRandom.fromState(seed);
  return new Float32Array(size).map(() => random.next() * 2 - 1);
}

export function randomTensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(
    randomValues(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
    'float32',
  );
}

/** Run `compute` (which builds its own tensors) on one backend; return its outputs' values. */
export async function valuesOn(backend: 'cpu' | 'wasm', compute: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outputs = tf.tidy(compute);
  const list = Array.isArray(outputs) ? outputs : [outputs];
  const values = list.map((t) => t.dataSync() as Float32Array);
  tf.dispose(list);
  await tf.setBackend('wasm');
  return values;
}

/** max |a − b| / max |b|: relative to the reference's scale, not per element. */
export function relativeError(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) return Infinity;
  let maxDiff = 0,
    scale = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return maxDiff / Math.max(scale, 1e-12);
}

/** Largest relative error between wasm and cpu over all outputs of `compute`. */
export async function wasmVsCpu(compute: () => tf.Tensor | tf.Tensor[]): Promise<number> {
  const expected = await valuesOn('cpu', compute);
  const actual = await valuesOn('wasm', compute);
  if (actual.length !== expected.length) return Infinity;
  return Math.max(...actual.map((values, i) => relativeError(values, expected[i]!)));
}

/**
 * Compare tf.grad(f)(x) with central finite differences of f, on the current backend.
 * Returns the relative error (max abs difference over max abs numeric gradient).
 */
export function gradientVsFiniteDifferences(f: (x: tf.Tensor) => tf.Scalar, x: tf.Tensor, eps: number): number {
  const analytic = tf.tidy(() => tf.grad(f)(x).dataSync() as Float32Array);
  const base = x.dataSync().slice() as Float32Array;
  const numeric = new Float32Array(base.length);
  const evaluate = (i: number, delta: number) =>
    tf.tidy(() => {
      const shifted = base.slice();
      shifted[i]! += delta;
      return f(tf.tensor(shifted, x.shape)).dataSync()[0]!;
    });
  for (let i = 0; i < base.length; i++) numeric[i] = (evaluate(i, eps) - evaluate(i, -eps)) / (2 * eps);
  return relativeError(analytic, numeric);
}
