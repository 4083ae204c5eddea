// Both fit paths driven by a landmark regressor's points with its model vertices. The regressor
// here is an "oracle": its head is zeroed and its output mean holds the true landmarks of one
// studio render in the crop the detector's points cut, so it returns the truth for that photo.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ModelUnavailableError, Reconstructor, UsageError } from '../../src/index.ts';
import { faceToJson } from '../../src/api/result-json.ts';
import { applyAffine2D, type RgbaImage } from '../../src/common/image.ts';
import { faceCropTransform } from '../../src/detect/align-face-crop.ts';
import { createFaceDetector, type FaceDetector } from '../../src/detect/index.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { LandmarkRegressor } from '../../src/invert/landmark-regressor.ts';
import { encodeLandmarkRegressorCheckpoint } from '../../src/invert/landmark-regressor-checkpoint.ts';
import { regressLandmarks } from '../../src/invert/regress-landmarks.ts';
import { readGarModelFiles } from '../../src/io/node/gar-models.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import type { MorphableModel } from '../../src/morphable/morphable-model.ts';
import { renderStudioPhoto, type StudioTruth } from '../../src/shading/studio-renderer.ts';
import { sampleStudioScene } from '../../src/shading/studio-scene.ts';
import { sharedModel } from '../helpers/model.ts';
import { writeTinyGarModels } from '../cli/reconstruct-gar-fixtures.ts';

const SIZE = 16;
let model: MorphableModel;
let detector: FaceDetector;
let image: RgbaImage;
let truth: StudioTruth;
let detected: Float32Array;
let work: string;
before(async () => {
  await initBackend({ backend: 'wasm' });
  model = await sharedModel();
  detector = await createFaceDetector(await loadDetectorModelFiles());
  const render = renderStudioPhoto(model, sampleStudioScene(model, 21, { maxYawDeg: 25 }));
  image = render.image;
  truth = render.truth;
  detected = (await detector.detect(image))[0].landmarks68;
  work = await mkdtemp(join(tmpdir(), 'facegar-regressor-fit-'));
});
after(async () => {
  detector.dispose();
  await rm(work, { recursive: true, force: true });
});

/** A regressor whose every output is `cropPoints` (crop px of a SIZE² crop). */
function constantRegressor(cropPoints: Float32Array): LandmarkRegressor {
  const regressor = new LandmarkRegressor({ resolution: SIZE, channelBase: 64, channelMax: 8, hiddenFeatures: 8, landmarkCount: 68 }, 1);
  for (const [, v] of regressor.head.namedParameters()) v.assign(tf.zerosLike(v));
  regressor.outputMean.assign(tf.tensor1d(cropPoints.map((p) => p / SIZE - 0.5)));
  return regressor;
}

/** The oracle's checkpoint bytes: the true landmarks in the crop the detector's points cut, the model's own vertices. */
function oracleFiles(vertexCount = model.vertexCount) {
  const cropFromImage = faceCropTransform(detected, SIZE);
  const cropPoints = new Float32Array(136);
  for (let k = 0; k < 68; k++) cropPoints.set(applyAffine2D(cropFromImage, truth.landmarks2d[2 * k], truth.landmarks2d[2 * k + 1]), 2 * k);
  const regressor = constantRegressor(cropPoints);
  try {
    return {
      ...encodeLandmarkRegressorCheckpoint(regressor, model.landmarkVertexIndices, { name: model.name, vertexCount }, 'w.safetensors', 1),
      source: 'the oracle',
    };
  } finally {
    regressor.dispose();
  }
}

function worstDistancePx(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let k = 0; k < 68; k++) worst = Math.max(worst, Math.hypot(a[2 * k] - b[2 * k], a[2 * k + 1] - b[2 * k + 1]));
  return worst;
}

test("graphics path: the fit matches the regressor's points with its vertices (default when loaded); facemesh on request; no tensors leak", async () => {
  const reconstructor = await Reconstructor.create({ model, detector, landmarkRegressor: oracleFiles() });
  try {
    assert.equal(reconstructor.landmarkRegressorAvailable, true);
    const fit = { landmarkSteps: 120, photometricSteps: 0 };
    await reconstructor.reconstruct(image, { renderer: 'graphics', fit: { landmarkSteps: 2, photometricSteps: 0 } }); // warm-up
    const before = tf.memory().numTensors;
    const result = await reconstructor.reconstruct(image, { renderer: 'graphics', fit });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    const face = result.faces[0];
    assert.equal(face.landmarkSource, 'regressor');
    assert.ok(worstDistancePx(face.regressedLandmarks2d!, truth.landmarks2d) < 0.05, 'the oracle returns the true landmarks');
    assert.ok(result.timingsMs.regress! > 0);
    // The true points with the true vertices: the fit can reach them (the detector's jaw and calibration do not bind it).
    const viaRegressor = face.landmarkErrorPx / face.interOcularPx;
    assert.ok(viaRegressor < 0.02, `mean landmark error ${(100 * viaRegressor).toFixed(2)} % of the eye distance`);
    const json = faceToJson(face);
    assert.equal(json.landmarkSource, 'regressor');
    assert.equal((json.regressedLandmarks2d as number[][]).length, 68);

    const facemesh = (await reconstructor.reconstruct(image, { renderer: 'graphics', fit, landmarks: 'facemesh' })).faces[0];
    assert.equal(facemesh.landmarkSource, 'facemesh');
    assert.equal(facemesh.regressedLandmarks2d, undefined);
    assert.equal(faceToJson(facemesh).regressedLandmarks2d, undefined);
    // The fit's projected landmarks are its correspondence's vertices: the regressor's run lies on the truth, FaceMesh's less so.
    assert.ok(
      worstDistancePx(face.landmarks2d, truth.landmarks2d) < worstDistancePx(facemesh.landmarks2d, truth.landmarks2d),
      `worst projected landmark vs truth: regressor ${worstDistancePx(face.landmarks2d, truth.landmarks2d).toFixed(2)} px, facemesh ${worstDistancePx(facemesh.landmarks2d, truth.landmarks2d).toFixed(2)} px`,
    );
  } finally {
    reconstructor.dispose();
  }
});

test("GAR path: the landmark stage matches the regressor's points with its vertices; the crops stay cut from the detector's", async () => {
  await writeTinyGarModels(model, join(work, 'gar'), join(work, 'encoder'));
  const gar = await readGarModelFiles({ garDir: join(work, 'gar'), encoderDir: join(work, 'encoder') });
  const reconstructor = await Reconstructor.create({ model, detector, gar, landmarkRegressor: oracleFiles() });
  try {
    // No GAR steps: Adam's first steps through a random tiny GAR move every variable by its rate.
    const refine = { garRefine: { landmarkStageSteps: 120, steps: 0, shadingSteps: 0, settleSteps: 0 }, garStart: 'mean' as const };
    const face = (await reconstructor.reconstruct(image, refine)).faces[0];
    assert.equal(face.renderer, 'gar');
    assert.equal(face.landmarkSource, 'regressor');
    const cut = faceCropTransform(detected, face.gar!.crop.width);
    for (const key of ['a', 'b', 'c', 'd', 'tx', 'ty'] as const) assert.ok(Math.abs(cut[key] - face.gar!.cropFromImage[key]) < 1e-6, `crop ${key}`);
    const error = face.landmarkErrorPx / face.interOcularPx;
    assert.ok(error < 0.02, `mean landmark error vs the regressor's points ${(100 * error).toFixed(2)} % of the eye distance`);
    const facemesh = (await reconstructor.reconstruct(image, { ...refine, landmarks: 'facemesh' })).faces[0];
    assert.ok(
      worstDistancePx(face.landmarks2d, truth.landmarks2d) < worstDistancePx(facemesh.landmarks2d, truth.landmarks2d),
      "the regressor's run lies closer to the truth",
    );
  } finally {
    reconstructor.dispose();
  }
});

test('options: regressor landmarks need a regressor, unknown sources are refused, a regressor of another model does not load; passes re-cut the crop', async () => {
  const plain = await Reconstructor.create({ model, detector });
  try {
    assert.equal(plain.landmarkRegressorAvailable, false);
    await assert.rejects(plain.reconstruct(image, { landmarks: 'regressor' }), ModelUnavailableError);
    await assert.rejects(plain.reconstruct(image, { landmarks: 'dlib' as 'facemesh' }), UsageError);
  } finally {
    plain.dispose();
  }
  const withOracle = await Reconstructor.create({ model, detector, landmarkRegressor: oracleFiles() });
  try {
    // Given points (the benchmark's oracle row) replace the detector: fitted as given, or framing the regressor's crop.
    const fit = { landmarkSteps: 5, photometricSteps: 0 };
    const given = (await withOracle.reconstruct(image, { renderer: 'graphics', fit, landmarks68: detected, landmarkVertices: model.landmarkVertexIndices }))
      .faces[0];
    assert.equal(given.landmarkSource, 'given');
    const regressed = (await withOracle.reconstruct(image, { renderer: 'graphics', fit, landmarks68: detected, landmarks: 'regressor' })).faces[0];
    assert.equal(regressed.landmarkSource, 'regressor');
    assert.ok(worstDistancePx(regressed.regressedLandmarks2d!, truth.landmarks2d) < 0.05, "the given points framed the crop as the detector's would");
    await assert.rejects(withOracle.reconstruct(image, { renderer: 'graphics', fit, landmarks68: detected, landmarks: 'facemesh' }), UsageError);
    await assert.rejects(withOracle.reconstruct(image, { renderer: 'graphics', fit, landmarks: 'given' }), UsageError);
  } finally {
    withOracle.dispose();
  }
  await assert.rejects(
    Reconstructor.create({ model, detector, landmarkRegressor: oracleFiles(model.vertexCount + 1) }),
    (error: unknown) => error instanceof ModelUnavailableError && /the oracle: cannot load the landmark regressor/.test(error.message),
  );

  const regressor = constantRegressor(new Float32Array(136).map((_, i) => (i % 2 ? 9 : 7) + (i % 7) * 0.3));
  try {
    const twice = regressLandmarks(regressor, image, detected, 2);
    const once = regressLandmarks(regressor, image, detected, 1);
    assert.equal(twice.cropFromImage.length, 2);
    const recut = faceCropTransform(once.landmarks, SIZE);
    for (const key of ['a', 'b', 'c', 'd', 'tx', 'ty'] as const) assert.ok(Math.abs(recut[key] - twice.cropFromImage[1][key]) < 1e-9, `second crop ${key}`);
    assert.throws(() => regressLandmarks(regressor, image, detected, 0), /passes/);
  } finally {
    regressor.dispose();
  }
});
