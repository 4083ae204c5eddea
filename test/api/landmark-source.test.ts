// The pose-robust landmark source of the GAR path: the landmarks a shape encoder's estimate
// implies, the estimate carried into the crop the chosen landmarks cut, and the GAR path's use of
// it (landmarkSource in the result and the JSON).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { chooseFitLandmarks, estimateFromLandmarks, estimateLandmarks, LANDMARK_MAP_FROM_YAW_DEG, mappedLandmarks } from '../../src/api/landmark-source.ts';
import { Reconstructor } from '../../src/api/reconstruct.ts';
import { faceToJson } from '../../src/api/result-json.ts';
import type { RgbaImage } from '../../src/common/image.ts';
import { faceCropTransform } from '../../src/detect/align-face-crop.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { defaultLandmarkVertices } from '../../src/fit/contour-landmarks.ts';
import { projectPointsArray, transformPointsArray } from '../../src/geometry/camera.ts';
import { cropPoseOfPhotoFit } from '../../src/invert/crop-frame.ts';
import { FaceEncoder, encoderNetworkConfig } from '../../src/invert/index.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { readGarModelFiles } from '../../src/io/node/gar-models.ts';
import { evaluateMorphableModel, type MorphableModel } from '../../src/morphable/morphable-model.ts';
import { renderStudioPhoto } from '../../src/shading/studio-renderer.ts';
import { sampleStudioScene } from '../../src/shading/studio-scene.ts';
import { sharedModel } from '../helpers/model.ts';
import { photosDir } from '../helpers/shared-data.ts';
import { writeTinyGarModels } from '../cli/reconstruct-gar-fixtures.ts';

let model: MorphableModel;
let work: string;
before(async () => {
  await initBackend({ backend: 'wasm' });
  model = await sharedModel();
  work = await mkdtemp(join(tmpdir(), 'facegar-landmark-source-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A turned studio face (200², yaw 70°) and its true camera. */
function turnedFace() {
  const scene = sampleStudioScene(model, 5, { width: 200, height: 200, yawDeg: 70 });
  const { image, truth } = renderStudioPhoto(model, scene);
  const project = (indices: ArrayLike<number>) => {
    const vertices = evaluateMorphableModel(model, scene.identity, scene.expression);
    const points = new Float32Array(indices.length * 3);
    Array.from(indices).forEach((v, k) => points.set(vertices.subarray(3 * v, 3 * v + 3), 3 * k));
    return projectPointsArray(transformPointsArray(points, truth.rotation, truth.translationMm), truth.camera);
  };
  return { scene, image, truth, project };
}

const maxDistance = (a: Float32Array, b: Float32Array) =>
  Math.max(...Array.from({ length: a.length / 2 }, (_, k) => Math.hypot(a[2 * k] - b[2 * k], a[2 * k + 1] - b[2 * k + 1])));

test('estimateLandmarks: a crop-frame estimate of the true face projects onto the true landmarks in the photo', () => {
  const { scene, truth, project } = turnedFace();
  const detectorPoints = project(defaultLandmarkVertices(model));
  const sizePx = 64;
  const cropFromImage = faceCropTransform(detectorPoints, sizePx);
  const { pose } = cropPoseOfPhotoFit(
    model,
    { rotation: truth.rotation, translationMm: truth.translationMm, focalPx: truth.camera.focalPx, principalPointPx: truth.camera.principalPointPx },
    cropFromImage,
    sizePx,
  );
  const estimate = { identity: scene.identity, expression: scene.expression, pose, w: new Float32Array(0) };
  const size = { width: 200, height: 200 };
  assert.ok(maxDistance(estimateLandmarks(model, estimate, cropFromImage, sizePx, size, model.landmarkVertexIndices), truth.landmarks2d) < 1e-2);
  assert.ok(maxDistance(estimateLandmarks(model, estimate, cropFromImage, sizePx, size), detectorPoints) < 1e-2, 'default: the vertices the fit follows');
});

test('chooseFitLandmarks: reliable points kept with their estimate; unreliable ones replaced, the estimate carried into the new crop exactly', () => {
  const { image, project } = turnedFace();
  const landmarks68 = project(defaultLandmarkVertices(model));
  const encoder = new FaceEncoder(
    encoderNetworkConfig('tiny', { identityCount: model.identityCount, expressionCount: model.expressionNames.length, wDim: 8 }),
    11,
  );
  const sizePx = encoder.config.resolution;
  try {
    const trusting = { reliability: { minMeshScore: 0, partialYawDeg: 181, fullYawDeg: 181, maxNoseShift: 99 } };
    const kept = chooseFitLandmarks(model, encoder, image, { landmarks68, meshScore: 0.9 }, trusting);
    assert.deepEqual([kept.source, kept.encoderPasses, kept.assessment.reliable], ['facemesh', 1, true]);
    assert.equal(kept.landmarks68, landmarks68);
    assert.deepEqual(kept.estimate.pose, estimateFromLandmarks(encoder, image, landmarks68).estimate.pose);

    const before = tf.memory().numTensors;
    const replaced = chooseFitLandmarks(model, encoder, image, { landmarks68, meshScore: 0.1 });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.deepEqual([replaced.source, replaced.encoderPasses], ['encoder', 1]);
    assert.match(replaced.assessment.reasons.join(), /face score 0.10/);
    // Every point is where the returned estimate, seen from the crop those points cut, puts it.
    const again = estimateLandmarks(model, replaced.estimate, faceCropTransform(replaced.landmarks68, sizePx), sizePx, image);
    assert.ok(maxDistance(again, replaced.landmarks68) < 1e-2, `${maxDistance(again, replaced.landmarks68)} px`);

    const partial = chooseFitLandmarks(
      model,
      encoder,
      image,
      { landmarks68, meshScore: 0.9 },
      { reliability: { partialYawDeg: 0, fullYawDeg: 181, maxNoseShift: 99 }, cropRefinements: 1 },
    );
    assert.deepEqual([partial.source, partial.encoderPasses], ['facemesh+encoder', 2]);
    assert.deepEqual(Array.from(partial.landmarks68.slice(2 * 27)), Array.from(landmarks68.slice(2 * 27)), 'eyes, nose, mouth: the detector');
    const partialAgain = estimateLandmarks(model, partial.estimate, faceCropTransform(partial.landmarks68, sizePx), sizePx, image);
    assert.ok(maxDistance(partialAgain.slice(0, 54), partial.landmarks68.slice(0, 54)) < 1e-2, 'jaw and brows: the estimate');
  } finally {
    encoder.dispose();
  }
});

test('the GAR path with a shape encoder records the landmark source per face; without one it follows the detector', async () => {
  await writeTinyGarModels(model, join(work, 'gar'), join(work, 'encoder'));
  const files = await readGarModelFiles({ garDir: join(work, 'gar'), encoderDir: join(work, 'encoder'), shapeEncoderDir: join(work, 'encoder') });
  const { data, info } = await sharp(join(photosDir, '000033.jpg')).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const photo: RgbaImage = { width: info.width, height: info.height, data: new Uint8ClampedArray(data) };
  const detector = await loadDetectorModelFiles();
  const withShape = await Reconstructor.create({ model, detector, gar: files });
  const withoutShape = await Reconstructor.create({ model, detector, gar: { ...files, shapeEncoder: undefined } });
  try {
    const distrust = { reliability: { fullYawDeg: 0 } };
    await withShape.reconstruct(photo, { garPreset: 'instant', landmarkGate: distrust }); // warm-up
    const before = tf.memory().numTensors;
    const replaced = (await withShape.reconstruct(photo, { garPreset: 'instant', landmarkGate: distrust })).faces[0];
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.equal(replaced.landmarkSource, 'encoder');
    assert.match(replaced.landmarkAssessment.reasons.join(), /turned/);
    const json = faceToJson(replaced);
    assert.equal(json.landmarkSource, 'encoder');
    assert.equal((json.landmarkReliability as { keptDetectorPoints: number }).keptDetectorPoints, 0);

    const trusted = (await withShape.reconstruct(photo, { garPreset: 'instant', landmarkGate: { reliability: { partialYawDeg: 181, fullYawDeg: 181 } } }))
      .faces[0];
    assert.equal(trusted.landmarkSource, 'facemesh');
    assert.equal(faceToJson(trusted).landmarkSource, 'facemesh');
    // The detector's points are the same either way; the error is measured against them.
    assert.deepEqual(Array.from(replaced.detectedLandmarks2d), Array.from(trusted.detectedLandmarks2d));

    // Where the gate replaced the points, the refinement's pixel weight is multiplied by replacedLandmarkPixelFactor.
    const pixelTerm = async (landmarkGate: typeof distrust, replacedLandmarkPixelFactor: number) =>
      (
        await withShape.reconstruct(photo, {
          landmarkGate,
          garRefine: { landmarkStageSteps: 0, steps: 2, shadingSteps: 0, settleSteps: 0, pixelWeight: 0.01, replacedLandmarkPixelFactor },
        })
      ).faces[0].gar!.finalTerms.pixel;
    const trust = { reliability: { partialYawDeg: 181, fullYawDeg: 181 } };
    assert.equal(await pixelTerm(distrust, 0), 0);
    assert.ok((await pixelTerm(distrust, 10)) > 0);
    assert.ok((await pixelTerm(trust, 0)) > 0, 'the detector trusted: pixelWeight as given');

    const plain = (await withoutShape.reconstruct(photo, { garPreset: 'instant' })).faces[0];
    assert.equal(plain.landmarkSource, 'facemesh');
    assert.equal(plain.landmarkAssessment.reliable, true, 'a frontal photo');
    const doubted = (await withoutShape.reconstruct(photo, { garPreset: 'instant', landmarkGate: distrust })).faces[0];
    assert.deepEqual(
      [doubted.landmarkSource, doubted.landmarkAssessment.reliable],
      ['facemesh', false],
      'no shape encoder: nothing to replace doubtful points with',
    );
  } finally {
    withShape.dispose();
    withoutShape.dispose();
  }
});

test("the landmark map's points are taken from LANDMARK_MAP_FROM_YAW_DEG of FaceMesh's own yaw on, and only when the detector made them", () => {
  const faceTurned = (yawDeg: number, withMap: boolean) => {
    const mesh468 = new Float32Array(468 * 3);
    // FaceMesh's outer eye corners 33 and 263: 2 units apart in x, their depth difference sets the yaw.
    mesh468.set([-1, 0, 0], 3 * 33);
    mesh468.set([1, 0, 2 * Math.tan((yawDeg * Math.PI) / 180)], 3 * 263);
    const modelLandmarks68 = new Float32Array(136).fill(7);
    return {
      box: { x: 0, y: 0, width: 1, height: 1 },
      detectionScore: 1,
      meshScore: 1,
      mesh468,
      landmarks68: new Float32Array(136),
      ...(withMap ? { modelLandmarks68 } : {}),
    };
  };
  assert.equal(mappedLandmarks(faceTurned(LANDMARK_MAP_FROM_YAW_DEG - 5, true)), undefined);
  assert.equal(mappedLandmarks(faceTurned(LANDMARK_MAP_FROM_YAW_DEG + 5, true))?.[0], 7);
  assert.equal(mappedLandmarks(faceTurned(-(LANDMARK_MAP_FROM_YAW_DEG + 5), true))?.[0], 7);
  assert.equal(mappedLandmarks(faceTurned(LANDMARK_MAP_FROM_YAW_DEG + 5, false)), undefined);
});

test(
  'reconstruct fits the landmark map on a turned face (JSON says so), FaceMesh on a frontal one, and not at all with landmarkMap false',
  { timeout: 120_000 },
  async () => {
    const reconstructor = await Reconstructor.create({ model, detector: await loadDetectorModelFiles() });
    try {
      const fit = { landmarkSteps: 60, photometricSteps: 0 };
      const render = (yawDeg: number) =>
        renderStudioPhoto(model, sampleStudioScene(model, 4242 + yawDeg, { width: 400, height: 400, maxYawDeg: 90, yawDeg })).image;
      const turned = (await reconstructor.reconstruct(render(55), { renderer: 'graphics', fit })).faces[0];
      assert.equal(turned.landmarkMap, true);
      assert.equal(faceToJson(turned).landmarkMap, true);
      // The fit follows the map's points with the model's own landmark vertices.
      assert.ok((100 * turned.landmarkErrorPx) / turned.interOcularPx < 15, `landmark error ${turned.landmarkErrorPx.toFixed(1)} px`);
      const without = (await reconstructor.reconstruct(render(55), { renderer: 'graphics', fit, landmarkMap: false })).faces[0];
      assert.equal(without.landmarkMap, undefined);
      assert.equal(faceToJson(without).landmarkMap, undefined);
      const frontal = (await reconstructor.reconstruct(render(5), { renderer: 'graphics', fit })).faces[0];
      assert.equal(frontal.landmarkMap, undefined);
    } finally {
      reconstructor.dispose();
    }
  },
);
