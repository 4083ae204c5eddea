import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cropPoseOfPhotoFit, cropPoseToCamera, cropCamera, createCropFrame } from '../../src/invert/crop-frame.ts';
import { rotationFromEuler } from '../../src/geometry/rotation.ts';
import { projectPointsArray, transformPointsArray } from '../../src/geometry/camera.ts';
import { applyAffine2D } from '../../src/common/image.ts';
import { evaluateMorphableModel } from '../../src/morphable/morphable-model.ts';
import { sharedModel } from '../helpers/model.ts';
import { runCli } from '../helpers/cli.ts';
import { copyExamplePhotos } from '../helpers/example-photos.ts';

test('cropPoseOfPhotoFit: every vertex lands where the photo pose puts it, mapped into the crop', async () => {
  const model = await sharedModel();
  const vertices = evaluateMorphableModel(model, new Float32Array(model.identityBasis.length / (model.vertexCount * 3)).fill(0.5), new Float32Array(0));
  const rotation = rotationFromEuler(0.2, -0.5, 0.1);
  const photo = { rotation, translationMm: [30, -12, -700] as [number, number, number], focalPx: 1400, principalPointPx: [400, 300] as [number, number] };
  const turn = 0.35,
    scale = 0.18; // a similarity photo → 128-px crop, turned and shifted
  const cropFromImage = { a: scale * Math.cos(turn), b: -scale * Math.sin(turn), c: scale * Math.sin(turn), d: scale * Math.cos(turn), tx: -20, ty: 15 };
  const { frame, pose } = cropPoseOfPhotoFit(model, photo, cropFromImage, 128);
  const photoPixels = projectPointsArray(transformPointsArray(vertices, rotation, photo.translationMm), { ...photo, width: 800, height: 600 });
  const crop = cropPoseToCamera(pose, frame);
  const cropPixels = projectPointsArray(transformPointsArray(vertices, crop.rotation, crop.translationMm), cropCamera(frame, crop.focalPx));
  let worst = 0;
  for (let i = 0; i < model.vertexCount; i += 97) {
    const [u, v] = applyAffine2D(cropFromImage, photoPixels[2 * i], photoPixels[2 * i + 1]);
    worst = Math.max(worst, Math.hypot(u - cropPixels[2 * i], v - cropPixels[2 * i + 1]));
  }
  assert.ok(worst < 1e-3, `worst disagreement ${worst} crop px`);
  assert.ok(Math.abs(crop.focalPx - photo.focalPx * scale) < 1e-6);
});

test('facegar prepare --fit: the graphics fit of every face, added on resume to crops prepared without', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-prepare-fit-'));
  try {
    const photos = await copyExamplePhotos(dir, 2);
    const plain = await runCli(['prepare', photos, '--out', join(dir, 'ds'), '--size', '64']);
    assert.equal(plain.code, 0, plain.stderr);
    const cropFile = join(dir, 'ds', JSON.parse(await readFile(join(dir, 'ds', 'dataset.json'), 'utf8')).images[0].files['64']);
    const cropTime = (await stat(cropFile)).mtimeMs;
    const fitted = await runCli(['prepare', photos, '--out', join(dir, 'ds'), '--size', '64', '--fit']);
    assert.equal(fitted.code, 0, fitted.stderr);
    assert.match(fitted.stderr, /2 processed now/);
    assert.equal((await stat(cropFile)).mtimeMs, cropTime, 'the crops stay as they were');
    const dataset = JSON.parse(await readFile(join(dir, 'ds', 'dataset.json'), 'utf8'));
    assert.equal(dataset.images.length, 2);
    const model = await sharedModel();
    for (const record of dataset.images) {
      const fit = record.fit;
      assert.equal(fit.identity.length, model.identityBasis.length / (model.vertexCount * 3));
      assert.ok(fit.landmarkErrorIod > 0 && fit.landmarkErrorIod < 0.05, `fit landmark error ${fit.landmarkErrorIod}`);
      // The crop pose puts the fitted face on the crop's detected landmarks (model landmark
      // vertices, not the calibrated ones the fit uses, hence the loose bound).
      const vertices = evaluateMorphableModel(model, fit.identity, fit.expression);
      const frame = createCropFrame(model, 64, fit.crop.principalPointPx);
      const camera = cropPoseToCamera(fit.crop, frame);
      const landmarkPoints = new Float32Array(68 * 3);
      model.landmarkVertexIndices.forEach((v, k) => landmarkPoints.set(vertices.subarray(3 * v, 3 * v + 3), 3 * k));
      const projected = projectPointsArray(transformPointsArray(landmarkPoints, camera.rotation, camera.translationMm), cropCamera(frame, camera.focalPx));
      let error = 0;
      for (let k = 17; k < 68; k++)
        error += Math.hypot(projected[2 * k] - record.landmarks68[2 * k], projected[2 * k + 1] - record.landmarks68[2 * k + 1]) / 51;
      const eyes = Math.hypot(record.landmarks68[2 * 45] - record.landmarks68[2 * 36], record.landmarks68[2 * 45 + 1] - record.landmarks68[2 * 36 + 1]);
      assert.ok(error / eyes < 0.1, `inner landmarks off by ${(error / eyes).toFixed(3)} of the eye-corner distance`);
    }
    const again = await runCli(['prepare', photos, '--out', join(dir, 'ds'), '--size', '64', '--fit']);
    assert.match(again.stderr, /0 processed now/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
