import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { computeVertexNormals, computeVertexNormalsArray } from '../../src/geometry/vertex-normals.ts';
import { icosphere, seededRandom } from '../raster/mesh-fixtures.ts';

test('vertex normals of a sphere are radial and outward (tensor and array versions agree)', async () => {
  await initBackend();
  const sphere = icosphere(3);
  const vertexCount = sphere.positions.length / 3;
  // Off-centre and scaled (millimetres), so "radial" is not just "equal to the position".
  const positions = sphere.positions.map((c, i) => 80 * c + [10, -5, 300][i % 3]);
  const expected = sphere.positions;
  const fromArray = computeVertexNormalsArray(positions, sphere.triangles);
  const input = tf.tensor2d(positions, [vertexCount, 3]);
  const before = tf.memory().numTensors;
  const tensor = computeVertexNormals(input, sphere.triangles);
  const fromTensor = tensor.dataSync();
  for (let v = 0; v < vertexCount; v++) {
    const dot = expected[3 * v] * fromArray[3 * v] + expected[3 * v + 1] * fromArray[3 * v + 1] + expected[3 * v + 2] * fromArray[3 * v + 2];
    assert.ok(dot > 0.999, `vertex ${v}: cos to radial ${dot}`);
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(fromTensor[3 * v + c] - fromArray[3 * v + c]) < 1e-5);
  }
  tf.dispose(tensor);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  input.dispose();
});

test('area weighting, isolated vertices and a hand-computed case', async () => {
  await initBackend();
  // Two faces at vertex 0: a big one in the z = 0 plane (normal +z) and a small one in the
  // x = 0 plane (normal +x); vertex 4 is in no face.
  const positions = Float32Array.from([0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 1, 9, 9, 9]);
  const triangles = Uint32Array.from([0, 1, 2, 0, 2, 3]);
  const normals = computeVertexNormalsArray(positions, triangles);
  // Sum at vertex 0: (0, 0, 16) + (4, 0, 0) → normalised (4, 0, 16)/√272.
  const length = Math.sqrt(272);
  assert.ok(Math.abs(normals[0] - 4 / length) < 1e-6 && Math.abs(normals[2] - 16 / length) < 1e-6);
  assert.deepEqual(Array.from(normals.subarray(12, 15)), [0, 0, 0]);
  const gradient = tf.tidy(() =>
    tf
      .grad((p: tf.Tensor) => tf.sum(computeVertexNormals(p as tf.Tensor2D, triangles)))(tf.tensor2d(positions, [5, 3]))
      .dataSync(),
  );
  assert.ok(Array.from(gradient).every(Number.isFinite), 'finite gradient with an isolated vertex');
  assert.deepEqual(Array.from(gradient.subarray(12, 15)), [0, 0, 0]);
});

for (const backend of ['wasm', 'cpu'] as const) {
  test(`vertex normal gradients match finite differences on ${backend}`, async () => {
    await initBackend();
    await tf.setBackend(backend);
    try {
      // A bumpy patch of an icosphere: every vertex has several faces of different sizes.
      const sphere = icosphere(1);
      const random = seededRandom(3);
      const positions = sphere.positions.map((c) => c * (1 + 0.2 * random()));
      const vertexCount = positions.length / 3;
      const weights = tf.tensor2d(
        Float32Array.from({ length: positions.length }, () => random() * 2 - 1),
        [vertexCount, 3],
      );
      const loss = (p: tf.Tensor2D) => tf.sum(tf.mul(computeVertexNormals(p, sphere.triangles), weights)) as tf.Scalar;
      const input = tf.tensor2d(positions, [vertexCount, 3]);
      const before = tf.memory().numTensors;
      const gradientTensor = tf.grad((p: tf.Tensor) => loss(p as tf.Tensor2D))(input);
      const analytic = gradientTensor.dataSync();
      tf.dispose(gradientTensor);
      assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
      input.dispose();
      const eps = 1e-3;
      let scale = 0;
      const numeric = new Float64Array(positions.length);
      for (let i = 0; i < positions.length; i++) {
        const evalAt = (delta: number) =>
          tf.tidy(() => {
            const shifted = Float32Array.from(positions);
            shifted[i] += delta;
            return loss(tf.tensor2d(shifted, [vertexCount, 3])).dataSync()[0];
          });
        numeric[i] = (evalAt(eps) - evalAt(-eps)) / (2 * eps);
        scale = Math.max(scale, Math.abs(numeric[i]));
      }
      assert.ok(scale > 0.1);
      for (let i = 0; i < positions.length; i++) {
        assert.ok(Math.abs(analytic[i] - numeric[i]) < 1e-2 * scale, `d/dp[${i}]: ${analytic[i]} vs ${numeric[i]}`);
      }
      weights.dispose();
    } finally {
      await tf.setBackend('wasm');
    }
  });
}
