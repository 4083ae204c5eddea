import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/engine/backend.ts';
import { LandmarkCorrespondence } from '../../src/fit/contour-landmarks.ts';
import { ModelTensors } from '../../src/fit/model-tensors.ts';
import { fitFace } from '../../src/fit/fit-face.ts';
import { DETECTOR_LANDMARK_VERTICES } from '../../src/morphable/detector-landmark-vertices.ts';
import { evaluateMorphableModel } from '../../src/morphable/morphable-model.ts';
import { rotationFromEuler } from '../../src/geometry/rotation.ts';
import { projectPointsArray, transformPointsArray } from '../../src/geometry/camera.ts';
import { createRgbaImage } from '../../src/common/image.ts';
import { sharedModel } from '../helpers/model.ts';

const camera = { focalPx: 900, principalPointPx: [250, 260] as [number, number], width: 500, height: 520 };
const translationMm = [10, -5, -650];

/** A face of the model turned by `yawDeg` (positive: its +x side, image-right, turns away). */
async function turnedFace(yawDeg: number) {
  const model = await sharedModel();
  const identity = new Float32Array(model.identityCount).map((_, i) => (i < 10 ? 0.8 * Math.cos(2 * i) : 0));
  const expression = new Float32Array(model.expressionNames.length);
  const vertices = evaluateMorphableModel(model, identity, expression);
  const rotation = rotationFromEuler(0.05, (yawDeg * Math.PI) / 180, 0.02);
  const pixels = projectPointsArray(transformPointsArray(vertices, rotation, translationMm), camera);
  return { model, coefficients: new Float32Array([...identity, ...expression]), rotation, pixels };
}

test('with the detector calibration the 68 landmark vertices are fixed: the calibrated ones, whatever the pose', async () => {
  await initBackend();
  const { model, coefficients, rotation } = await turnedFace(35);
  const correspondence = new LandmarkCorrespondence(model);
  try {
    assert.equal(correspondence.sliding, false);
    assert.deepEqual(Array.from(correspondence.vertexIndices), Array.from(DETECTOR_LANDMARK_VERTICES));
    assert.equal(correspondence.update(coefficients, rotation, translationMm, camera), false);
    assert.deepEqual(Array.from(correspondence.vertexIndices), Array.from(DETECTOR_LANDMARK_VERTICES));
  } finally {
    correspondence.dispose();
  }
});

test('a sliding contour moves the far-side jaw to the outline and leaves the chin alone', async () => {
  await initBackend();
  const { model, coefficients, rotation, pixels } = await turnedFace(35);
  const correspondence = new LandmarkCorrespondence(model, model.landmarkVertexIndices, { slidingContour: true });
  try {
    assert.equal(correspondence.sliding, true);
    assert.equal(correspondence.update(coefficients, rotation, translationMm, camera), true);
    // Far side (image-right, iBUG 11–16): each slid point lies at least as far right as the
    // model's own contour vertex, and on average clearly further (the cheek's outline).
    let gainPx = 0;
    for (let k = 11; k <= 16; k++) {
      const slid = pixels[2 * correspondence.vertexIndices[k]],
        own = pixels[2 * model.landmarkVertexIndices[k]];
      assert.ok(slid >= own - 1e-3, `jaw ${k}: slid ${slid} px, own ${own} px`);
      gainPx += (slid - own) / 6;
    }
    assert.ok(gainPx > 2, `far-side contour moved out by ${gainPx} px`);
    for (let k = 6; k <= 10; k++) assert.equal(correspondence.vertexIndices[k], model.landmarkVertexIndices[k], `chin ${k}`);
    // Updating again under the same pose changes nothing.
    assert.equal(correspondence.update(coefficients, rotation, translationMm, camera), false);
  } finally {
    correspondence.dispose();
  }
});

test('reported landmarks are the fitted mesh projected, and the error is their mean distance to the detections (fixed and sliding jaw)', async () => {
  await initBackend();
  const { model, pixels } = await turnedFace(25);
  const detected = new Float32Array(136);
  // Detections: the calibrated vertices of the turned face, pushed about by a few pixels.
  DETECTOR_LANDMARK_VERTICES.forEach((v, k) => {
    detected[2 * k] = pixels[2 * v] + 3 * Math.sin(7 * k);
    detected[2 * k + 1] = pixels[2 * v + 1] + 3 * Math.cos(5 * k);
  });
  const tensors = new ModelTensors(model);
  try {
    for (const slidingContour of [0, 1]) {
      const fit = fitFace(tensors, createRgbaImage(camera.width, camera.height), detected, { landmarkSteps: 40, photometricSteps: 0, slidingContour });
      const fitted = projectPointsArray(transformPointsArray(fit.vertices, fit.rotation, fit.translationMm), {
        ...camera,
        focalPx: fit.focalPx,
        principalPointPx: fit.principalPointPx,
      });
      // Which vertices stand in for the landmarks at the final pose.
      const correspondence = new LandmarkCorrespondence(model, undefined, { slidingContour: slidingContour === 1 });
      correspondence.update(new Float32Array([...fit.identity, ...fit.expressionWeights]), fit.rotation, fit.translationMm, {
        focalPx: fit.focalPx,
        principalPointPx: fit.principalPointPx,
      });
      let errorSum = 0;
      for (let k = 0; k < 68; k++) {
        const v = correspondence.vertexIndices[k];
        assert.ok(
          Math.abs(fit.landmarks2d[2 * k] - fitted[2 * v]) < 0.05 && Math.abs(fit.landmarks2d[2 * k + 1] - fitted[2 * v + 1]) < 0.05,
          `sliding ${slidingContour}, landmark ${k}`,
        );
        errorSum += Math.hypot(fit.landmarks2d[2 * k] - detected[2 * k], fit.landmarks2d[2 * k + 1] - detected[2 * k + 1]);
      }
      correspondence.dispose();
      assert.ok(Math.abs(fit.landmarkErrorPx - errorSum / 68) < 1e-3, `sliding ${slidingContour}: ${fit.landmarkErrorPx} vs ${errorSum / 68}`);
    }
  } finally {
    tensors.dispose();
  }
});
