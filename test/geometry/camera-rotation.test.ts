import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { eulerFromRotation, rotationFromEuler, rotationMatrixTensor } from '../../src/geometry/rotation.ts';
import { cameraToClip, cameraToClipArray, projectPointsArray, projectToPixels } from '../../src/geometry/camera.ts';

test('Euler rotation is orthonormal, right-handed, and inverts back to its angles', () => {
  for (const angles of [
    [0.1, -0.7, 0.2],
    [-0.4, 1.2, -0.3],
    [0, 0, 0],
  ] as [number, number, number][]) {
    const r = rotationFromEuler(...angles);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        const dot = r[3 * i] * r[3 * j] + r[3 * i + 1] * r[3 * j + 1] + r[3 * i + 2] * r[3 * j + 2];
        assert.ok(Math.abs(dot - (i === j ? 1 : 0)) < 1e-12);
      }
    }
    const determinant = r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) + r[2] * (r[3] * r[7] - r[4] * r[6]);
    assert.ok(Math.abs(determinant - 1) < 1e-12);
    eulerFromRotation(r).forEach((value, i) => assert.ok(Math.abs(value - angles[i]) < 1e-9));
  }
  // Yaw +90° about +y takes +z (the face's forward direction) to +x.
  const quarter = rotationFromEuler(0, Math.PI / 2, 0);
  assert.ok(Math.abs(quarter[2] - 1) < 1e-12 && Math.abs(quarter[8]) < 1e-12);
});

test('tensor rotation matches the plain one and has gradients', async () => {
  await initBackend();
  const angles = tf.tensor1d([0.3, -0.5, 0.1]);
  const matrix = rotationMatrixTensor(angles);
  const expected = rotationFromEuler(0.3, -0.5, 0.1);
  Array.from(matrix.dataSync()).forEach((value, i) => assert.ok(Math.abs(value - expected[i]) < 1e-6));
  const gradient = tf.grad((a: tf.Tensor) => tf.sum(rotationMatrixTensor(a as tf.Tensor1D)))(angles);
  assert.equal(gradient.shape[0], 3);
  assert.ok(Array.from(gradient.dataSync()).every(Number.isFinite));
  tf.dispose([angles, matrix, gradient]);
});

test('projection: a point on the optical axis lands on the principal point; clip space agrees with pixels', async () => {
  await initBackend();
  const camera = { focalPx: 800, principalPointPx: [320, 240] as [number, number], width: 640, height: 480 };
  const points = [0, 0, -500, 50, 25, -500, -30, -60, -700];
  const pixels = projectPointsArray(points, camera);
  assert.deepEqual(Array.from(pixels.subarray(0, 2)), [320, 240]);
  // +x right, +y up in camera space → u grows, v shrinks.
  assert.ok(pixels[2] > 320 && pixels[3] < 240);
  assert.ok(Math.abs(pixels[2] - (320 + (800 * 50) / 500)) < 1e-4);
  const tensorPixels = projectToPixels(tf.tensor2d(points, [3, 3]), 800, camera.principalPointPx).dataSync();
  Array.from(tensorPixels).forEach((value, i) => assert.ok(Math.abs(value - pixels[i]) < 1e-3));
  // Clip → NDC → pixel must give the same pixels; tensor and array clip agree.
  const clip = cameraToClipArray(points, camera);
  const clipTensor = cameraToClip(tf.tensor2d(points, [3, 3]), 800, camera).dataSync();
  for (let i = 0; i < 3; i++) {
    const w = clip[4 * i + 3];
    const u = ((clip[4 * i] / w + 1) / 2) * camera.width;
    const v = ((1 - clip[4 * i + 1] / w) / 2) * camera.height;
    assert.ok(Math.abs(u - pixels[2 * i]) < 1e-3 && Math.abs(v - pixels[2 * i + 1]) < 1e-3);
    for (let c = 0; c < 4; c++) assert.ok(Math.abs(clipTensor[4 * i + c] - clip[4 * i + c]) < 1e-2 * Math.max(1, Math.abs(clip[4 * i + c])));
  }
  // Nearer points have smaller depth z/w.
  assert.ok(clip[2] / clip[3] < clip[10] / clip[11]);
});
