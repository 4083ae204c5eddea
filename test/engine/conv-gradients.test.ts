import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { randomTensor, relativeError, wasmVsCpu } from './helpers.ts';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
interface ConvCase {
  x: [number, number, number, number];
  kernel: [number, number];
  cout: number;
  stride: number | [number, number];
  pad: Pad;
}

const CONV_CASES: ConvCase[] = [
  { x: [2, 9, 9, 3], kernel: [3, 3], cout: 5, stride: 1, pad: 'same' },
  { x: [2, 9, 9, 3], kernel: [3, 3], cout: 5, stride: 2, pad: 'same' },
  { x: [1, 8, 8, 4], kernel: [3, 3], cout: 6, stride: 2, pad: 'same' },
  { x: [2, 9, 7, 3], kernel: [3, 3], cout: 4, stride: 1, pad: 'valid' },
  { x: [1, 10, 10, 2], kernel: [3, 3], cout: 4, stride: 2, pad: 'valid' },
  { x: [1, 8, 8, 2], kernel: [5, 5], cout: 3, stride: [2, 1], pad: 'same' },
  { x: [1, 8, 8, 3], kernel: [1, 1], cout: 4, stride: 2, pad: 'valid' },
  {
    x: [1, 7, 8, 2],
    kernel: [3, 2],
    cout: 3,
    stride: 1,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
];

function describeCase(c: ConvCase): string {
  return `x ${c.x.join('×')}, kernel ${c.kernel.join('×')}→${c.cout}, stride ${c.stride}, pad ${JSON.stringify(c.pad)}`;
}

/** Gradients of a weighted sum of conv2d's output with respect to x and the filter. */
function convGradients(c: ConvCase): tf.Tensor[] {
  const x = randomTensor(c.x, 1) as tf.Tensor4D;
  const filter = randomTensor([...c.kernel, c.x[3], c.cout], 2) as tf.Tensor4D;
  const probe = tf.conv2d(x, filter, c.stride, c.pad);
  const weights = randomTensor(probe.shape, 3);
  const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), weights));
  return tf.grads(loss)([x, filter]);
}

before(async () => {
  await initBackend({ backend: 'wasm' });
});

describe('Conv2DBackpropInput / Conv2DBackpropFilter on wasm', () => {
  for (const c of CONV_CASES) {
    test(`match cpu: ${describeCase(c)}`, async () => {
      const error = await wasmVsCpu(() => convGradients(c));
      assert.ok(error < 1e-4, `relative error ${error}`);
    });
  }

  test('conv2dTranspose (forward of Conv2DBackpropInput) upsampling by 2 matches cpu', async () => {
    const error = await wasmVsCpu(() =>
      tf.conv2dTranspose(randomTensor([2, 5, 6, 4], 4) as tf.Tensor4D, randomTensor([3, 3, 3, 4], 5) as tf.Tensor4D, [2, 10, 12, 3], 2, 'same'),
    );
    assert.ok(error < 1e-4, `relative error ${error}`);
  });

  test('conv gradients match central finite differences on a tiny case', () => {
    const x = randomTensor([1, 4, 5, 2], 6) as tf.Tensor4D;
    const filter = randomTensor([3, 3, 2, 3], 7) as tf.Tensor4D;
    const loss = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.sum(tf.square(tf.leakyRelu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), 0.2))));
    const [dx, dW] = tf.grads(loss)([x, filter]);
    for (const [which, value, analytic] of [
      ['x', x, dx!],
      ['filter', filter, dW!],
    ] as const) {
      const base = value.dataSync().slice();
      const numeric = new Float32Array(base.length);
      const eps = 1e-2;
      for (let i = 0; i < base.length; i++) {
        const evaluate = (delta: number) =>
          tf.tidy(() => {
            const shifted = base.slice();
            shifted[i]! += delta;
            const t = tf.tensor(shifted, value.shape);
            return (which === 'x' ? loss(t, filter) : loss(x, t)).dataSync()[0]!;
          });
        numeric[i] = (evaluate(eps) - evaluate(-eps)) / (2 * eps);
      }
      const error = relativeError(analytic.dataSync() as Float32Array, numeric);
      assert.ok(error < 1e-2, `d loss/d ${which}: relative error ${error} vs finite differences`);
    }
    tf.dispose([x, filter, dx!, dW!]);
  });

  test('kernels leave no tensor behind', () => {
    const x = randomTensor([2, 8, 8, 3], 8) as tf.Tensor4D;
    const filter = randomTensor([3, 3, 3, 4], 9) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')))([x, filter]);
    assert.equal(tf.memory().numTensors, before + 2);
    tf.dispose(grads);
    const up = tf.conv2dTranspose(tf.ones([1, 4, 4, 4]) as tf.Tensor4D, filter, [1, 8, 8, 3], 2, 'same');
    assert.equal(tf.memory().numTensors, before + 2); // the ones() input and the output
    tf.dispose(up);
    tf.dispose([x, filter]);
  });
});

describe('second order through conv2d on wasm', () => {
  test('R1-style penalty: gradient of |dD/dx|² w.r.t. weights and input matches cpu', async () => {
    const error = await wasmVsCpu(() => {
      const x = randomTensor([2, 8, 8, 3], 10);
      const w1 = randomTensor([3, 3, 3, 4], 11) as tf.Tensor4D;
      const w2 = randomTensor([3, 3, 4, 2], 12) as tf.Tensor4D;
      const b1 = randomTensor([4], 13);
      const discriminator = (input: tf.Tensor, a: tf.Tensor4D, b: tf.Tensor4D) =>
        tf.sum(tf.leakyRelu(tf.conv2d(tf.leakyRelu(tf.add(tf.conv2d(input as tf.Tensor4D, a, 1, 'same'), b1), 0.2) as tf.Tensor4D, b, 2, 'same'), 0.2));
      const penalty = (input: tf.Tensor, a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.grad((y: tf.Tensor) => discriminator(y, a as tf.Tensor4D, b as tf.Tensor4D))(input)));
      return tf.grads(penalty)([x, w1, w2]);
    });
    assert.ok(error < 1e-4, `relative error ${error}`);
  });
});
