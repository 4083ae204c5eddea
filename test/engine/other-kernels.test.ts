import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { randomTensor, wasmVsCpu } from './helpers.ts';

before(async () => {
  await initBackend({ backend: 'wasm' });
});

describe('depthwise convolution gradients on wasm', () => {
  const cases = [
    { x: [2, 8, 8, 3], multiplier: 1, stride: 1, pad: 'same' },
    { x: [1, 9, 9, 2], multiplier: 2, stride: 2, pad: 'same' },
    { x: [2, 7, 9, 3], multiplier: 2, stride: 1, pad: 'valid' },
    { x: [1, 10, 10, 4], multiplier: 1, stride: 2, pad: 'valid' },
  ] as const;
  for (const c of cases) {
    test(`match cpu: x ${c.x.join('×')}, multiplier ${c.multiplier}, stride ${c.stride}, ${c.pad}`, async () => {
      const error = await wasmVsCpu(() => {
        const x = randomTensor([...c.x], 1) as tf.Tensor4D;
        const filter = randomTensor([3, 3, c.x[3], c.multiplier], 2) as tf.Tensor4D;
        const weights = randomTensor(tf.depthwiseConv2d(x, filter, c.stride, c.pad).shape, 3);
        return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), weights)))([
          x,
          filter,
        ]);
      });
      assert.ok(error < 1e-4, `relative error ${error}`);
    });
  }

  test('separableConv2d gradient matches cpu', async () => {
    const error = await wasmVsCpu(() =>
      tf.grads((x: tf.Tensor, d: tf.Tensor, p: tf.Tensor) =>
        tf.sum(tf.square(tf.separableConv2d(x as tf.Tensor4D, d as tf.Tensor4D, p as tf.Tensor4D, 1, 'same'))),
      )([randomTensor([1, 6, 6, 3], 4), randomTensor([3, 3, 3, 2], 5), randomTensor([1, 1, 6, 4], 6)]),
    );
    assert.ok(error < 1e-4, `relative error ${error}`);
  });
});

describe('UnsortedSegmentSum and gather gradients on wasm', () => {
  test('unsortedSegmentSum with repeated and empty segments matches cpu', async () => {
    const error = await wasmVsCpu(() => tf.unsortedSegmentSum(randomTensor([7, 3, 2], 1), tf.tensor1d([0, 4, 4, 1, 0, 4, 2], 'int32'), 6));
    assert.ok(error < 1e-4, `relative error ${error}`);
  });

  test('ids outside [0, numSegments) are dropped', () => {
    const sums = tf.unsortedSegmentSum(
      tf.tensor2d([
        [1, 1],
        [2, 2],
        [4, 4],
        [8, 8],
      ]),
      tf.tensor1d([1, -1, 3, 1], 'int32'),
      3,
    );
    assert.deepEqual(Array.from(sums.dataSync()), [0, 0, 9, 9, 0, 0]);
    sums.dispose();
  });

  for (const axis of [0, 1]) {
    test(`gradient of gather along axis ${axis} matches cpu`, async () => {
      const error = await wasmVsCpu(() => {
        const weights = randomTensor(axis === 0 ? [5, 4, 3] : [4, 5, 3], 2);
        return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.gather(x, tf.tensor1d([0, 3, 3, 9, 1], 'int32'), axis), weights)))(
          randomTensor(axis === 0 ? [10, 4, 3] : [4, 10, 3], 3),
        );
      });
      assert.ok(error < 1e-4, `relative error ${error}`);
    });
  }
});

describe('matMul with transposes on wasm', () => {
  for (const [transposeA, transposeB] of [
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    test(`batched product transposeA=${transposeA} transposeB=${transposeB}, large enough to transpose explicitly, matches cpu`, async () => {
      const error = await wasmVsCpu(() =>
        tf.matMul(randomTensor(transposeA ? [2, 128, 96] : [2, 96, 128], 1), randomTensor(transposeB ? [2, 96, 128] : [2, 128, 96], 2), transposeA, transposeB),
      );
      // 2·96·128·96 ≈ 2.4M multiply-adds: above the explicit-transpose threshold.
      assert.ok(error < 1e-4, `relative error ${error}`);
    });
  }

  test('dense layer gradient (matMul transposes in backprop) and fused matMul match cpu', async () => {
    const error = await wasmVsCpu(() =>
      tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.square(tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b, activation: 'leakyrelu', leakyreluAlpha: 0.2, transposeB: true })),
        ),
      )([randomTensor([64, 256], 1), randomTensor([192, 256], 2), randomTensor([192], 3)]),
    );
    assert.ok(error < 1e-4, `relative error ${error}`);
  });

  test('wrapped matMul leaves no tensor behind', () => {
    const a = randomTensor([128, 160], 1),
      b = randomTensor([128, 160], 2);
    const before = tf.memory().numTensors;
    const product = tf.matMul(a, b, true, false);
    assert.deepEqual(product.shape, [160, 160]);
    assert.equal(tf.memory().numTensors, before + 1);
    tf.dispose([a, b, product]);
  });
});
