// The library's GAR path: reconstruct(image, { renderer: 'gar' }) with tiny random-weight networks.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { Reconstructor, reconstruct, ModelUnavailableError, type RgbaImage } from '../../src/index.ts';
import { decodeGarModels, type GarModelFiles } from '../../src/api/gar-models.ts';
import { alignFaceCrop } from '../../src/detect/align-face-crop.ts';
import { imageToGarTensor } from '../../src/invert/render-through-gar.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { LandmarkCorrespondence } from '../../src/fit/contour-landmarks.ts';
import { projectPointsArray, transformPointsArray } from '../../src/geometry/camera.ts';
import { readGarModelFiles } from '../../src/io/node/gar-models.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { loadReconstructorResources } from '../../src/io/node/index.ts';
import { loadFaceEmbeddingModelFile } from '../../src/io/node/face-embedding-model.ts';
import { encodeIdentityRegressor, featureCount, MESH_VALUE_COUNT } from '../../src/invert/identity-regressor.ts';
import type { MorphableModel } from '../../src/morphable/morphable-model.ts';
import { faceToJson } from '../../src/api/result-json.ts';
import { sharedModel } from '../helpers/model.ts';
import { modelDir, photosDir, testCacheDir } from '../helpers/shared-data.ts';
import { writeTinyGarModels } from '../cli/reconstruct-gar-fixtures.ts';

let work: string;
let model: MorphableModel;
let files: GarModelFiles;
before(async () => {
  await initBackend({ backend: 'wasm' });
  model = await sharedModel();
  work = await mkdtemp(join(tmpdir(), 'facegar-gar-api-'));
  await writeTinyGarModels(model, join(work, 'gar'), join(work, 'encoder'));
  files = await readGarModelFiles({ garDir: join(work, 'gar'), encoderDir: join(work, 'encoder') });
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

async function photo(name: string, rotateDeg = 0): Promise<RgbaImage> {
  const { data, info } = await sharp(join(photosDir, name))
    .rotate(rotateDeg, { background: '#808080' })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8ClampedArray(data) };
}

/**
 * Largest distance between the face's inner landmarks (iBUG 17–67) and its landmark vertices
 * projected with the returned photo camera: the crop's camera was moved back to the photo correctly.
 */
function cameraMismatchPx(face: Awaited<ReturnType<typeof reconstruct>>['faces'][number]): number {
  // Through the landmark map the fit's landmarks are the model's own vertices, else the detector calibration's.
  const correspondence = new LandmarkCorrespondence(model, face.landmarkMap ? model.landmarkVertexIndices : undefined);
  const indices = correspondence.vertexIndices.slice();
  correspondence.dispose();
  const points = new Float32Array(68 * 3);
  indices.forEach((v, k) => points.set(face.vertices.subarray(3 * v, 3 * v + 3), 3 * k));
  const projected = projectPointsArray(transformPointsArray(points, face.rotation, face.translationMm), {
    focalPx: face.focalPx,
    principalPointPx: face.principalPointPx,
    width: 1,
    height: 1,
  });
  let worst = 0;
  for (let k = 17; k < 68; k++)
    worst = Math.max(worst, Math.hypot(projected[2 * k] - face.landmarks2d[2 * k], projected[2 * k + 1] - face.landmarks2d[2 * k + 1]));
  return worst;
}

test("reconstruct(image, { renderer: 'gar' }): the encoder's estimate in photo pixels, also on a photo turned in plane; no tensors leak", async () => {
  const reconstructor = await Reconstructor.create({ model, detector: await loadDetectorModelFiles(), gar: files });
  try {
    assert.deepEqual(reconstructor.garAvailable, { gar: true, encoder: true, identityRegressor: false, resolution: 32, garStep: 7 });
    const image = await photo('000033.jpg');
    await reconstructor.reconstruct(image, { garPreset: 'instant' }); // warm-up: backends create a few lasting constants on first use
    const before = tf.memory().numTensors;
    const result = await reconstructor.reconstruct(image, { garPreset: 'instant' });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    const face = result.faces[0];
    assert.equal(face.renderer, 'gar', 'gar is the default renderer of a reconstructor holding a GAR');
    assert.equal(face.gar!.preset, 'instant');
    assert.equal(face.gar!.render.width, 32);
    assert.equal(face.vertices.length, model.vertexCount * 3);
    assert.ok(cameraMismatchPx(face) < 0.5, `projection vs landmarks: ${cameraMismatchPx(face)} px`);
    assert.ok(result.timingsMs.align! >= 0 && result.timingsMs.encode! > 0 && result.timingsMs.refine! >= 0);

    const turned = await reconstructor.reconstruct(await photo('000033.jpg', 25), { garPreset: 'instant' });
    const turnedFace = turned.faces[0];
    assert.ok(cameraMismatchPx(turnedFace) < 0.5, `turned photo: ${cameraMismatchPx(turnedFace)} px`);
    // sharp turns the photo clockwise on screen: about the camera's +z (towards the viewer) that is a roll of −25°.
    assert.ok(
      Math.abs(turnedFace.anglesDeg[2] - face.anglesDeg[2] + 25) < 8,
      `roll ${face.anglesDeg[2]} → ${turnedFace.anglesDeg[2]} for a 25° clockwise turn`,
    );

    const graphics = await reconstructor.reconstruct(image, { renderer: 'graphics', fit: { landmarkSteps: 10, photometricSteps: 0 } });
    assert.equal(graphics.faces[0].renderer, 'graphics');
    assert.equal(graphics.faces[0].gar, undefined);
  } finally {
    reconstructor.dispose();
  }
});

test('an identity regressor centres the identity prior on both paths: a confident estimate becomes the start; fixed identities and given landmarks ignore it', async () => {
  const K = model.identityCount,
    D = 1024; // FaceRes's embedding length
  const F = featureCount(D);
  const target = Float32Array.from({ length: K }, (_, k) => Math.sin(k + 1));
  const weights = new Float32Array((F + 1) * K);
  weights.set(target, F * K); // no feature weight: the constant alone, so the estimate is `target` for every face
  const regressor = {
    embeddingDimension: D,
    identityCount: K,
    referenceMesh: Float32Array.from({ length: MESH_VALUE_COUNT }, (_, i) => Math.cos(i)),
    featureMean: new Float32Array(F),
    featureScale: new Float32Array(F).fill(1),
    weights,
    errorStd: new Float32Array(K).fill(1e-3),
  };
  const identityRegressor = { weights: encodeIdentityRegressor(regressor), embedding: await loadFaceEmbeddingModelFile(), source: 'constant regressor' };
  const detector = await loadDetectorModelFiles();
  const image = await photo('000033.jpg');
  const [plain, regressed] = await Promise.all([
    Reconstructor.create({ model, detector, gar: files }),
    Reconstructor.create({ model, detector, gar: files, identityRegressor }),
  ]);
  try {
    const distance = (identity: Float32Array) => Math.max(...Array.from(identity, (v, k) => Math.abs(v - target[k])));
    const without = (await plain.reconstruct(image, { garPreset: 'instant' })).faces[0];
    const face = (await regressed.reconstruct(image, { garPreset: 'instant' })).faces[0];
    assert.ok(distance(without.identity) > 0.3, 'the tiny encoder alone does not land on the target');
    assert.ok(distance(face.identity) < 1e-3, `with the regressor the start is its estimate (off by ${distance(face.identity)})`);
    assert.deepEqual([plain.garAvailable.identityRegressor, regressed.garAvailable.identityRegressor], [false, true]);
    assert.deepEqual([without.gar!.identityRegressor, face.gar!.identityRegressor], [false, true], 'each face says whether the regressor informed it');
    assert.deepEqual([without.identityRegressor, face.identityRegressor], [false, true]);
    // The graphics path: the confident estimate is its prior's centre and start; the landmarks cannot pull it away.
    const graphicsOptions = { renderer: 'graphics' as const, fit: { landmarkSteps: 30, photometricSteps: 0 } };
    const [graphicsWithout, graphicsFace] = [
      (await plain.reconstruct(image, graphicsOptions)).faces[0],
      (await regressed.reconstruct(image, graphicsOptions)).faces[0],
    ];
    assert.ok(distance(graphicsWithout.identity) > 0.3, 'the graphics fit alone does not land on the target');
    assert.ok(distance(graphicsFace.identity) < 0.05, `graphics path with the regressor: off by ${distance(graphicsFace.identity)}`);
    assert.deepEqual([graphicsWithout.identityRegressor, graphicsFace.identityRegressor], [false, true]);
    assert.equal(faceToJson(graphicsFace).identityRegressor, true, 'the JSON says so');
    const fixed = new Float32Array(K);
    assert.ok((await regressed.reconstruct(image, { garPreset: 'instant', fixedIdentity: fixed })).faces[0].identity.every((v) => v === 0));
    const given = (await regressed.reconstruct(image, { garPreset: 'instant', landmarks68: face.detectedLandmarks2d })).faces[0];
    assert.ok(distance(given.identity) > 0.3, 'given landmarks (no FaceMesh mesh) leave the regressor out');
    assert.equal(given.gar!.identityRegressor, false);
    const wrongSize = { ...identityRegressor, weights: identityRegressor.weights.slice(8) };
    await assert.rejects(
      Reconstructor.create({ model, detector, identityRegressor: wrongSize }),
      (error: Error) => error instanceof ModelUnavailableError && /constant regressor/.test(error.message),
    );
  } finally {
    plain.dispose();
    regressed.dispose();
  }
});

test('an encoder of another resolution than the GAR gets its own crop: the same estimate as on that crop, in the GAR crop frame', async () => {
  const dirs = { garDir: join(work, 'gar'), encoderDir: join(work, 'encoder64') };
  await writeTinyGarModels(model, join(work, 'gar-unused'), dirs.encoderDir, 3, 64);
  // Without the landmark map, so the crop is cut from the detector's own points (detectedLandmarks2d).
  const reconstructor = await Reconstructor.create({
    model,
    detector: await loadDetectorModelFiles({ landmarkMap: false }),
    gar: await readGarModelFiles(dirs),
  });
  const models = decodeGarModels(await readGarModelFiles(dirs), model);
  try {
    assert.equal(models.encoder!.config.resolution, 64);
    assert.equal(models.generator.config.resolution, 32);
    const image = await photo('000033.jpg');
    const face = (await reconstructor.reconstruct(image, { garPreset: 'instant' })).faces[0];
    assert.equal(face.gar!.crop.width, 32, 'the GAR crop keeps the GAR resolution');
    assert.ok(cameraMismatchPx(face) < 0.5, `projection vs landmarks: ${cameraMismatchPx(face)} px`);
    // The instant preset returns the encoder's estimate: its identity is what the encoder says on a 64² crop.
    const { crop } = alignFaceCrop(image, face.detectedLandmarks2d, 64);
    for (let i = 3; i < crop.data.length; i += 4) crop.data[i] = 255;
    const input = imageToGarTensor(crop);
    const direct = models.encoder!.estimate(input)[0];
    input.dispose();
    assert.ok(Math.max(...direct.identity.map((v, k) => Math.abs(v - face.identity[k]))) < 1e-5, 'identity from the 64² crop');
  } finally {
    reconstructor.dispose();
    models.dispose();
  }
});

test('the one-shot reconstruct() runs a short refinement from the mean face; a reconstructor without a GAR refuses the GAR renderer', async () => {
  const detector = await loadDetectorModelFiles();
  const image = await photo('000114.jpg');
  // Adam's first step after the converged landmark stage moves every variable by its rate and may raise the loss; a few more bring it below the start.
  const result = await reconstruct(image, { model, detector, gar: files }, { renderer: 'gar', garStart: 'mean', garRefine: { steps: 8 } });
  const gar = result.faces[0].gar!;
  assert.deepEqual([gar.start, gar.steps, gar.lossHistory.length], ['mean', 8, 9]);
  assert.ok(gar.finalTerms.total < gar.lossHistory[0], `loss ${gar.lossHistory[0]} → ${gar.finalTerms.total}`);
  await assert.rejects(reconstruct(image, { model, detector }, { renderer: 'gar' }), ModelUnavailableError);
  // facegar/node's loader takes the CLI's options and brings the checkpoints along.
  const resources = await loadReconstructorResources({ modelDir, cacheDir: testCacheDir, gar: join(work, 'gar'), encoder: join(work, 'encoder') });
  assert.equal(resources.gar?.gar.weights.length, files.gar.weights.length);
  assert.equal((await loadReconstructorResources({ modelDir, cacheDir: testCacheDir, renderer: 'graphics' })).gar, undefined);
  const corrupt = { ...files, gar: { ...files.gar, weights: files.gar.weights.slice(0, 100) } };
  await assert.rejects(Reconstructor.create({ model, detector, gar: corrupt }), ModelUnavailableError);
});
