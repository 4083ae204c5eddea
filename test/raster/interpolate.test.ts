import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { rasterize } from '../../src/raster/rasterize.ts';
import { interpolate } from '../../src/raster/interpolate.ts';
import { icosphere, projectPerspective, seededRandom, translate } from './mesh-fixtures.ts';

const width = 24,
  height = 20;

/** A tilted quad (two triangles) in front of a perspective camera, strongly varying w. */
function tiltedQuad(): { model: Float32Array; clip: Float32Array; triangles: Uint32Array } {
  const model = Float32Array.from([-1.2, -1, -2.2, 1.3, -0.9, -3.5, 1.1, 1.2, -4.5, -1.0, 1.1, -2.6]);
  return { model, clip: projectPerspective(model, 1.6), triangles: Uint32Array.from([0, 1, 2, 0, 2, 3]) };
}

test('interpolated model positions project back onto the pixel centres (perspective-correct)', async () => {
  await initBackend();
  const { model, clip, triangles } = tiltedQuad();
  const r = rasterize(clip, triangles, { width, height });
  const attributes = tf.tensor2d(model, [4, 3]);
  const positions = tf.tensor2d(clip, [4, 4]);
  const { image, mask } = interpolate(attributes, r, triangles);
  const fromPositions = interpolate(attributes, r, triangles, positions);
  const values = image.dataSync(),
    maskValues = mask.dataSync(),
    values2 = fromPositions.image.dataSync();
  assert.deepEqual(image.shape, [height, width, 3]);
  assert.deepEqual(mask.shape, [height, width, 1]);
  let covered = 0;
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const p = row * width + col;
      const [x, y, z] = values.subarray(3 * p, 3 * p + 3);
      if (r.triangleIdPlusOne[p] === 0) {
        assert.equal(maskValues[p], 0);
        assert.deepEqual([x, y, z], [0, 0, 0]);
        continue;
      }
      covered++;
      assert.equal(maskValues[p], 1);
      // The interpolated 3D point lies on the pixel's ray: its projection is the pixel centre.
      assert.ok(Math.abs((1.6 * x) / -z - (((col + 0.5) / width) * 2 - 1)) < 1e-5, `x at ${col},${row}`);
      assert.ok(Math.abs((1.6 * y) / -z - (1 - ((row + 0.5) / height) * 2)) < 1e-5, `y at ${col},${row}`);
      // Barycentrics recomputed from positions agree with the rasteriser's.
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(values2[3 * p + c] - values[3 * p + c]) < 1e-5);
    }
  }
  assert.ok(covered > 100);
  tf.dispose([attributes, positions, image, mask, fromPositions.image, fromPositions.mask]);
});

test('interpolate equals a hand computation on one affine triangle', async () => {
  await initBackend();
  // w = 1, so barycentrics are screen-space: pixel (col, row) centre = (col + 0.5, row + 0.5).
  const clip = Float32Array.from([-1, 1, 0, 1, 1, 1, 0, 1, -1, -1, 0, 1]);
  const triangles = Uint32Array.from([0, 1, 2]);
  const r = rasterize(clip, triangles, { width: 4, height: 4 });
  const attributes = tf.tensor2d([
    [10, 0],
    [20, 1],
    [40, 2],
  ]);
  const { image, mask } = interpolate(attributes, r, triangles);
  const values = image.dataSync();
  // Pixel (col 1, row 0): NDC (-0.25, 0.75): b1 = (x+1)/2 = 0.375, b2 = (1-y)/2 = 0.125, b0 = 0.5.
  assert.ok(Math.abs(values[2 * 1] - (0.5 * 10 + 0.375 * 20 + 0.125 * 40)) < 1e-4);
  assert.ok(Math.abs(values[2 * 1 + 1] - (0.375 * 1 + 0.125 * 2)) < 1e-6);
  // Pixel (col 3, row 3) is outside: zero.
  assert.equal(values[2 * 15], 0);
  tf.dispose([attributes, image, mask]);
});

/** Central finite differences of `loss` (float32, evaluated through dataSync) over every entry of x. */
function finiteDifferences(loss: (x: tf.Tensor2D) => tf.Scalar, x: Float32Array, shape: [number, number], eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const plus = Float32Array.from(x);
    plus[i] += eps;
    const minus = Float32Array.from(x);
    minus[i] -= eps;
    const lp = tf.tidy(() => loss(tf.tensor2d(plus, shape)).dataSync()[0]);
    const lm = tf.tidy(() => loss(tf.tensor2d(minus, shape)).dataSync()[0]);
    out[i] = (lp - lm) / (2 * eps);
  }
  return out;
}

function assertClose(actual: Float32Array | Float64Array, expected: Float64Array, relative: number, label: string): void {
  const scale = Math.max(...Array.from(expected, Math.abs));
  assert.ok(scale > 0, `${label}: gradient is not all zero`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= relative * scale, `${label}[${i}]: ${actual[i]} vs finite difference ${expected[i]}`);
  }
}

for (const backend of ['wasm', 'cpu'] as const) {
  test(`interpolate gradients match finite differences on ${backend}`, async () => {
    await initBackend();
    await tf.setBackend(backend);
    try {
      const { clip, triangles } = tiltedQuad();
      const r = rasterize(clip, triangles, { width, height });
      const random = seededRandom(5);
      const attributeValues = Float32Array.from({ length: 4 * 2 }, () => random() * 2 - 1);
      const pixelWeights = tf.tensor3d(
        Float32Array.from({ length: width * height * 2 }, () => random()),
        [height, width, 2],
      );
      const attributes = tf.tensor2d(attributeValues, [4, 2]);
      const positions = tf.tensor2d(clip, [4, 4]);
      // A non-linear loss, so the gradient depends on the values.
      const lossOf = (a: tf.Tensor2D, p: tf.Tensor2D) => tf.sum(tf.mul(tf.square(interpolate(a, r, triangles, p).image), pixelWeights)) as tf.Scalar;

      const before = tf.memory().numTensors;
      const [gradAttributes, gradPositions] = tf.grads((a: tf.Tensor, p: tf.Tensor) => lossOf(a as tf.Tensor2D, p as tf.Tensor2D))([attributes, positions]);
      const analyticAttributes = gradAttributes.dataSync() as Float32Array,
        analyticPositions = gradPositions.dataSync() as Float32Array;
      tf.dispose([gradAttributes, gradPositions]);
      assert.equal(tf.memory().numTensors, before, 'no tensor leaks');

      const numericAttributes = finiteDifferences((a) => lossOf(a, positions), attributeValues, [4, 2], 1e-2);
      assertClose(analyticAttributes, numericAttributes, 2e-3, 'd loss / d attributes');
      const numericPositions = finiteDifferences((p) => lossOf(attributes, p), clip, [4, 4], 2e-3);
      assertClose(analyticPositions, numericPositions, 1e-2, 'd loss / d positions');
      // z carries no gradient (barycentrics depend on x, y, w only).
      for (let v = 0; v < 4; v++) assert.equal(analyticPositions[4 * v + 2], 0);
      tf.dispose([attributes, positions, pixelWeights]);
    } finally {
      await tf.setBackend('wasm');
    }
  });
}

test('interpolate on a 20k-triangle sphere at 128 px leaves no tensors behind', async () => {
  await initBackend();
  const sphere = icosphere(5);
  const clip = projectPerspective(translate(sphere.positions, 0, 0, -4), 3.5);
  const r = rasterize(clip, sphere.triangles, { width: 128, height: 128 });
  const vertexCount = sphere.positions.length / 3;
  const attributes = tf.tensor2d(sphere.positions, [vertexCount, 3]);
  const positions = tf.tensor2d(clip, [vertexCount, 4]);
  const before = tf.memory().numTensors;
  const gradient = tf.grad((p: tf.Tensor) => tf.sum(interpolate(attributes, r, sphere.triangles, p as tf.Tensor2D).image))(positions);
  assert.ok(Array.from(gradient.dataSync()).every(Number.isFinite));
  gradient.dispose();
  const out = interpolate(attributes, r, sphere.triangles);
  tf.dispose([out.image, out.mask]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([attributes, positions]);
});
