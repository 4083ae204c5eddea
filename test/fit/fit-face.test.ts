import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { ModelTensors } from '../../src/fit/model-tensors.ts';
import { fitFace } from '../../src/fit/fit-face.ts';
import { evaluateMorphableModel } from '../../src/morphable/morphable-model.ts';
import { rotationFromEuler } from '../../src/geometry/rotation.ts';
import { projectPointsArray, transformPointsArray } from '../../src/geometry/camera.ts';
import { createRgbaImage } from '../../src/common/image.ts';
import { LandmarkCorrespondence } from '../../src/fit/contour-landmarks.ts';
import { FitFailedError } from '../../src/common/errors.ts';
import { sharedModel } from '../helpers/model.ts';

/** Landmarks of a known face under a known camera: the fit must find them again. */
async function syntheticLandmarks(yawDeg: number) {
  const model = await sharedModel();
  const identity = new Float32Array(100).map((_, i) => (i < 12 ? 1.2 * Math.sin(3 * i + 1) : 0));
  const expression = new Float32Array(53);
  expression[model.expressionNames.indexOf('jawOpen')] = 0.3;
  const vertices = evaluateMorphableModel(model, identity, expression);
  const rotation = rotationFromEuler(0.08, (yawDeg * Math.PI) / 180, -0.04);
  const camera = { focalPx: 900, principalPointPx: [250, 260] as [number, number], width: 500, height: 520 };
  const translation = [15, -10, -650];
  const pixels = projectPointsArray(transformPointsArray(vertices, rotation, translation), camera);
  // Jaw points where the detector puts them: on the calibrated vertices (fixed; update is a no-op).
  const correspondence = new LandmarkCorrespondence(model);
  const coefficients = new Float32Array([...identity, ...expression]);
  correspondence.update(coefficients, rotation, translation, camera);
  correspondence.dispose();
  const landmarks = new Float32Array(136);
  correspondence.vertexIndices.forEach((v, k) => {
    landmarks[2 * k] = pixels[2 * v];
    landmarks[2 * k + 1] = pixels[2 * v + 1];
  });
  return { model, landmarks, image: createRgbaImage(camera.width, camera.height) };
}

test('landmark fitting recovers pose of a synthetic face (yaw 0°, 30°, 55°) to about a pixel', async () => {
  await initBackend();
  const model = await sharedModel();
  const tensors = new ModelTensors(model);
  try {
    for (const yawDeg of [0, 30, 55]) {
      const { landmarks, image } = await syntheticLandmarks(yawDeg);
      const before = tf.memory().numTensors;
      // Noise-free landmarks: with weak priors the optimiser must land on the truth.
      const fit = fitFace(tensors, image, landmarks, { photometricSteps: 0, identityPriorWeight: 1e-7, expressionPriorWeight: 1e-6 });
      assert.equal(tf.memory().numTensors, before, 'fitFace leaks no tensors');
      let innerError = 0;
      for (let k = 17; k < 68; k++) innerError += Math.hypot(fit.landmarks2d[2 * k] - landmarks[2 * k], fit.landmarks2d[2 * k + 1] - landmarks[2 * k + 1]) / 51;
      assert.ok(innerError < 1, `yaw ${yawDeg}: inner landmark error ${innerError} px`);
      assert.ok(fit.landmarkErrorPx < 1.5, `yaw ${yawDeg}: landmark error ${fit.landmarkErrorPx} px`);
      assert.ok(Math.abs(fit.anglesDeg[1] - yawDeg) < 4, `yaw ${yawDeg}: fitted ${fit.anglesDeg[1]}`);
      assert.ok(Math.abs(fit.anglesDeg[0] - (0.08 * 180) / Math.PI) < 4, `pitch ${fit.anglesDeg[0]}`);
      assert.ok(fit.lossHistory.landmark.at(-1)! < fit.lossHistory.landmark[0] / 10);
      assert.ok(fit.expressionWeights.every((w) => w >= 0 && w <= 1));
      assert.equal(fit.vertices.length, model.vertexCount * 3);
    }
  } finally {
    tensors.dispose();
  }
});

test('fitting is deterministic: the same input gives the same mesh', async () => {
  await initBackend();
  const model = await sharedModel();
  const tensors = new ModelTensors(model);
  try {
    const { landmarks, image } = await syntheticLandmarks(20);
    const a = fitFace(tensors, image, landmarks, { landmarkSteps: 60, photometricSteps: 0 });
    const b = fitFace(tensors, image, landmarks, { landmarkSteps: 60, photometricSteps: 0 });
    assert.deepEqual(a.vertices, b.vertices);
    assert.deepEqual(a.translationMm, b.translationMm);
  } finally {
    tensors.dispose();
  }
});

test('bad fit options are rejected with a one-line message', async () => {
  const model = await sharedModel();
  await initBackend();
  const tensors = new ModelTensors(model);
  try {
    const { landmarks, image } = await syntheticLandmarks(0);
    assert.throws(() => fitFace(tensors, image, landmarks, { landmarkSteps: -1 }), /Expected non-negative integer for landmarkSteps but received -1/);
    assert.throws(() => fitFace(tensors, image, landmarks, { renderSizePx: 3 }), /renderSizePx/);
    assert.throws(() => fitFace(tensors, image, landmarks, { slidingContour: 0.5 }), /Expected 0 or 1 for slidingContour but received 0.5/);
  } finally {
    tensors.dispose();
  }
});

test('a fit that turns NaN stops with FitFailedError (exit code 8), leaking nothing', async () => {
  await initBackend();
  const model = await sharedModel();
  const tensors = new ModelTensors(model);
  try {
    const { landmarks, image } = await syntheticLandmarks(0);
    landmarks[10] = Number.NaN;
    const before = tf.memory().numTensors;
    assert.throws(
      () => fitFace(tensors, image, landmarks, { landmarkSteps: 20, photometricSteps: 0 }),
      (error: unknown) => error instanceof FitFailedError && error.exitCode === 8 && /diverged/.test(error.message),
    );
    assert.equal(tf.memory().numTensors, before);
  } finally {
    tensors.dispose();
  }
});

test('the dense FaceMesh term is zero at the truth and grows when the points move', async () => {
  await initBackend();
  const model = await sharedModel();
  const { DenseLandmarkTerm } = await import('../../src/fit/dense-landmarks.ts');
  const { DETECTOR_MESH_VERTICES } = await import('../../src/morphable/detector-landmark-vertices.ts');
  const { FitVariables } = await import('../../src/fit/fit-variables.ts');
  // Mean face straight ahead: variables at rest put the pivot on the optical axis at depth D0.
  const frame = {
    focalPriorPx: 800,
    principalPointPx: [256, 256] as [number, number],
    initialDepthMm: 600,
    pivotMm: [0, 0, 0] as [number, number, number],
    faceSizePx: 150,
  };
  const camera = { focalPx: 800, principalPointPx: [256, 256] as [number, number], width: 512, height: 512 };
  const pixels = projectPointsArray(transformPointsArray(model.neutral, rotationFromEuler(0, 0, 0), [0, 0, -600]), camera);
  const mesh468 = new Float32Array(468 * 3);
  DETECTOR_MESH_VERTICES.forEach((vertex, point) => {
    if (vertex >= 0) {
      mesh468[3 * point] = pixels[2 * vertex];
      mesh468[3 * point + 1] = pixels[2 * vertex + 1];
    }
  });
  const variables = new FitVariables({ modeCount: 153, yaw: 0, direction: [0, 0] });
  const atTruth = new DenseLandmarkTerm(model, mesh468);
  assert.ok(atTruth.pointCount > 400);
  const zero = tf.tidy(() => atTruth.loss(variables, frame).dataSync()[0]);
  const shifted = new DenseLandmarkTerm(
    model,
    mesh468.map((value, i) => (i % 3 === 0 ? value + 3 : value)),
  );
  const moved = tf.tidy(() => shifted.loss(variables, frame).dataSync()[0]);
  assert.ok(zero < 1e-8, `loss at the truth ${zero}`);
  assert.ok(Math.abs(moved - (3 / 150) ** 2) < 1e-6, `loss for a 3 px shift ${moved}`);
  atTruth.dispose();
  shifted.dispose();
  variables.dispose();
});
