// The wasm replacements that exist for speed (Slice, LeakyRelu and its gradient, the
// per-tap Conv2DBackpropFilter on larger shapes) give cpu's results.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { randomTensor, relativeError, valuesOn, wasmVsCpu } from './helpers.ts';

before(async () => {
  await initBackend({ backend: 'wasm' });
});

describe('Slice on wasm without the input copy', () => {
  const cases: Array<{ shape: number[]; begin: number[]; size: number[] }> = [
    { shape: [64, 300], begin: [3, 17], size: [50, 200] },
    { shape: [2, 9, 9, 5], begin: [1, 2, 0, 1], size: [1, 5, 9, 3] },
    { shape: [2, 9, 9, 5], begin: [0, 2, 0, 0], size: [2, 4, -1, -1] },
    { shape: [3, 4, 5, 6, 7], begin: [1, 0, 2, 1, 3], size: [2, 4, 2, 4, 3] },
    { shape: [10], begin: [4], size: [0] },
  ];
  for (const c of cases) {
    test(`float32 ${c.shape.join('×')} from ${c.begin.join(',')} size ${c.size.join(',')}`, async () => {
      const error = await wasmVsCpu(() => tf.slice(randomTensor(c.shape, 21), c.begin, c.size));
      assert.equal(error, 0); // a copy: exact
    });
  }

  test('int32 and bool slices keep dtype and values', async () => {
    const compute = () => {
      const ints = tf.reshape(tf.range(0, 4 * 5 * 6, 1, 'int32'), [4, 5, 6]);
      return [tf.cast(tf.slice(ints, [1, 1, 2], [2, 3, 3]), 'float32'), tf.cast(tf.slice(tf.greater(ints, 50), [1, 0, 0], [2, 5, 2]), 'float32')];
    };
    const [expected, actual] = [await valuesOn('cpu', compute), await valuesOn('wasm', compute)];
    assert.deepEqual(
      actual.map((a) => [...a]),
      expected.map((e) => [...e]),
    );
    const sliced = tf.slice(tf.tensor([1, 2, 3, 4], [2, 2], 'int32'), [1, 0], [1, 2]);
    assert.equal(sliced.dtype, 'int32');
    assert.deepEqual([...sliced.dataSync()], [3, 4]);
    sliced.dispose();
  });
});

describe('LeakyRelu on wasm', () => {
  test('forward matches cpu, with 0, ±∞ and NaN exact', async () => {
    const special = [0, Infinity, -Infinity, NaN, 3, 1e-30];
    const compute = () => [tf.leakyRelu(tf.tensor1d(special), 0.2), tf.leakyRelu(randomTensor([7, 11], 22), 0.2)];
    const [expectedSpecial, expected] = await valuesOn('cpu', compute);
    const [actualSpecial, actual] = await valuesOn('wasm', compute);
    assert.deepEqual([...actualSpecial!].map(String), [...expectedSpecial!].map(String));
    // cpu scales by alpha in float64, wasm in float32: at most one rounding apart.
    assert.ok(relativeError(actual!, expected!) < 1e-6, `relative error ${relativeError(actual!, expected!)}`);
  });

  test('gradient and gradient of gradient match cpu', async () => {
    const error = await wasmVsCpu(() => {
      const x = randomTensor([2, 6, 6, 3], 23);
      const w = randomTensor([3, 3, 3, 2], 24) as tf.Tensor4D;
      const f = (input: tf.Tensor) => tf.sum(tf.square(tf.leakyRelu(tf.conv2d(input as tf.Tensor4D, w, 1, 'same'), 0.2)));
      const [dx] = tf.grads(f)([x]);
      const [ddx] = tf.grads((input: tf.Tensor) => tf.sum(tf.square(tf.grad(f)(input))))([x]);
      return [dx!, ddx!];
    });
    assert.ok(error < 1e-4, `relative error ${error}`);
  });
});

describe('Conv2DBackpropFilter per filter tap, larger shapes', () => {
  const cases = [
    { x: [3, 11, 13, 5], kernel: [4, 4], cout: 6, stride: 2, pad: 'valid' as const },
    { x: [2, 16, 16, 8], kernel: [3, 3], cout: 8, stride: 2, pad: 'same' as const },
    { x: [1, 32, 32, 16], kernel: [3, 3], cout: 16, stride: 1, pad: 'same' as const },
  ];
  for (const c of cases) {
    test(`dW matches cpu: x ${c.x.join('×')}, kernel ${c.kernel.join('×')}→${c.cout}, stride ${c.stride}, ${c.pad}`, async () => {
      const error = await wasmVsCpu(() => {
        const x = randomTensor(c.x, 25) as tf.Tensor4D;
        const filter = randomTensor([...c.kernel, c.x[3]!, c.cout], 26) as tf.Tensor4D;
        const weights = randomTensor(tf.conv2d(x, filter, c.stride, c.pad).shape, 27);
        return tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, f as tf.Tensor4D, c.stride, c.pad), weights)))(filter);
      });
      assert.ok(error < 1e-4, `relative error ${error}`);
    });
  }
});
