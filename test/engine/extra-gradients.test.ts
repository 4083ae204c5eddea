import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackend, initBackend } from '../../src/engine/backend.ts';
import { gradientVsFiniteDifferences, randomTensor, wasmVsCpu } from './helpers.ts';

before(async () => {
  await initBackend({ backend: 'wasm' });
});

/**
 * |∇g(x)|² where g = Σ w·op(x)²: its gradient needs the gradient of op's gradient kernel
 * (the second-order path an R1 penalty takes). Quadratic in x for linear ops, so central
 * differences are exact up to rounding.
 */
function squaredGradientNorm(op: (x: tf.Tensor4D) => tf.Tensor, weightsShape: number[]) {
  return (x: tf.Tensor): tf.Scalar => {
    const weights = randomTensor(weightsShape, 99);
    const inner = tf.grad((y: tf.Tensor) => tf.sum(tf.mul(weights, tf.square(op(y as tf.Tensor4D)))))(x);
    return tf.sum(tf.square(inner));
  };
}

describe('second-order gradients added for resize, pooling and depthwise kernels', () => {
  const cases: Array<[string, (x: tf.Tensor4D) => tf.Tensor, number[], number[], number]> = [
    // Not half-pixel centres, nor avgPool 'same': tfjs' first-order gradients are wrong there
    // (see the report), so their second order cannot match finite differences either.
    ['resizeBilinear down', (x) => tf.image.resizeBilinear(x, [3, 3]), [1, 6, 6, 2], [1, 3, 3, 2], 0.1],
    ['resizeBilinear up, align corners', (x) => tf.image.resizeBilinear(x, [7, 7], true), [1, 4, 4, 2], [1, 7, 7, 2], 0.1],
    ['resizeNearestNeighbor up', (x) => tf.image.resizeNearestNeighbor(x, [8, 8]), [1, 4, 4, 2], [1, 8, 8, 2], 0.1],
    ['avgPool 2×2 valid', (x) => tf.avgPool(x, 2, 2, 'valid'), [1, 6, 6, 2], [1, 3, 3, 2], 0.1],
    ['avgPool 3×3 stride 2 valid', (x) => tf.avgPool(x, 3, 2, 'valid'), [1, 7, 7, 2], [1, 3, 3, 2], 0.1],
    ['maxPool 2×2 valid', (x) => tf.maxPool(x, 2, 2, 'valid'), [1, 4, 4, 2], [1, 2, 2, 2], 1e-3],
    [
      'depthwiseConv2d multiplier 2, stride 2',
      (x) => tf.depthwiseConv2d(x, randomTensor([3, 3, 2, 2], 5) as tf.Tensor4D, 2, 'same'),
      [1, 5, 5, 2],
      [1, 3, 3, 4],
      0.1,
    ],
  ];
  for (const [name, op, xShape, weightsShape, eps] of cases) {
    test(`${name}: matches finite differences`, () => {
      const x = randomTensor(xShape, 7);
      const error = gradientVsFiniteDifferences(squaredGradientNorm(op, weightsShape), x, eps);
      x.dispose();
      assert.ok(error < 1e-2, `relative error ${error}`);
    });
  }

  test('conv2d filter gradient differentiated again (Conv2DBackpropFilter gradient) matches finite differences', () => {
    const x = randomTensor([1, 5, 5, 2], 3);
    const filter = randomTensor([3, 3, 2, 3], 4);
    const f = (input: tf.Tensor): tf.Scalar =>
      tf.sum(tf.square(tf.grad((w: tf.Tensor) => tf.sum(tf.square(tf.conv2d(input as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'))))(filter)));
    const error = gradientVsFiniteDifferences(f, x, 1e-2);
    tf.dispose([x, filter]);
    assert.ok(error < 1e-2, `relative error ${error}`);
  });

  test('second order through depthwise conv matches cpu', async () => {
    const error = await wasmVsCpu(() =>
      tf.grad(squaredGradientNorm((x) => tf.depthwiseConv2d(x, randomTensor([3, 3, 3, 1], 5) as tf.Tensor4D, 1, 'same'), [2, 6, 6, 3]))(
        randomTensor([2, 6, 6, 3], 6),
      ),
    );
    assert.ok(error < 1e-4, `relative error ${error}`);
  });
});

describe('gradients tfjs lacks in any backend', () => {
  test('comparisons have zero gradient, so where(x > 0, …) can be differentiated twice', () => {
    const x = randomTensor([3, 4], 1);
    const inner = (z: tf.Tensor) => tf.sum(tf.where(tf.greater(z, 0), tf.pow(z, 3), tf.mul(z, tf.cast(tf.less(z, -0.5), 'float32'))));
    const f = (y: tf.Tensor): tf.Scalar => tf.sum(tf.square(tf.grad(inner)(y)));
    const error = gradientVsFiniteDifferences(f, x, 1e-3);
    x.dispose();
    assert.ok(error < 1e-2, `relative error ${error}`);
  });

  test('gatherND gradient matches finite differences', () => {
    const x = randomTensor([4, 3], 2);
    const weights = randomTensor([3], 3);
    const error = gradientVsFiniteDifferences(
      (y) =>
        tf.sum(
          tf.mul(
            weights,
            tf.square(
              tf.gatherND(
                y,
                tf.tensor2d(
                  [
                    [0, 1],
                    [3, 2],
                    [0, 1],
                  ],
                  [3, 2],
                  'int32',
                ),
              ),
            ),
          ),
        ),
      x,
      1e-2,
    );
    tf.dispose([x, weights]);
    assert.ok(error < 1e-2, `relative error ${error}`);
  });

  test("prod gradient (tfjs' own calls unregistered chained ops) matches finite differences", () => {
    const x = tf.add(randomTensor([3, 4, 2], 4), 1.5);
    const error = gradientVsFiniteDifferences((y) => tf.sum(tf.prod(y, [0, 2])), x, 1e-3);
    x.dispose();
    assert.ok(error < 1e-2, `relative error ${error}`);
  });

  test('describeBackend lists what was added', () => {
    const description = describeBackend();
    assert.equal(description.name, 'wasm');
    for (const kernel of [
      'Conv2DBackpropInput',
      'Conv2DBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
      'DepthwiseConv2dNativeBackpropFilter',
      'UnsortedSegmentSum',
    ]) {
      assert.ok(description.kernelsAdded.includes(kernel), kernel);
    }
    for (const gradient of ['Greater', 'ResizeBilinearGrad', 'AvgPoolGrad', 'MaxPoolGrad', 'Prod']) {
      assert.ok(description.gradientsAdded.includes(gradient), gradient);
    }
  });
});
