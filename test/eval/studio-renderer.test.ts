import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderStudioPhoto } from '../../src/shading/studio-renderer.ts';
import { sampleStudioScene } from '../../src/shading/studio-scene.ts';
import { hashSeed, SeededRandom } from '../../src/shading/studio-random.ts';
import { sharedModel } from '../helpers/model.ts';

test('seeded random and seed hashing are deterministic and distinct per stream', () => {
  const a = new SeededRandom(7), b = new SeededRandom(7);
  for (let i = 0; i < 100; i++) assert.equal(a.next(), b.next());
  assert.notEqual(hashSeed('benchmark', 1, 0), hashSeed('train', 1, 0));
  assert.notEqual(hashSeed('benchmark', 1, 0), hashSeed('benchmark', 1, 1));
  const normals = Array.from({ length: 20000 }, () => a.normal());
  const mean = normals.reduce((s, x) => s + x, 0) / normals.length;
  const variance = normals.reduce((s, x) => s + (x - mean) ** 2, 0) / normals.length;
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(variance - 1) < 0.05, `mean ${mean}, variance ${variance}`);
});

test('studio photo: deterministic for a seed, a lit face over a background, truth consistent with the image', async () => {
  const model = await sharedModel();
  const scene = sampleStudioScene(model, 12345, { width: 256, height: 256 });
  const first = renderStudioPhoto(model, scene);
  const second = renderStudioPhoto(model, sampleStudioScene(model, 12345, { width: 256, height: 256 }));
  assert.deepEqual(first.image.data, second.image.data);
  const other = renderStudioPhoto(model, sampleStudioScene(model, 999, { width: 256, height: 256 }));
  assert.notDeepEqual(first.image.data, other.image.data);

  const { image, truth } = first;
  assert.equal(image.width, 256);
  assert.ok(Math.abs(truth.anglesDeg[1]) <= 60 && Math.abs(truth.anglesDeg[0]) <= 15 && Math.abs(truth.anglesDeg[2]) <= 10);
  // Landmarks inside the image; face height (brow to chin) a sensible fraction of it.
  for (let k = 0; k < 68; k++) {
    assert.ok(truth.landmarks2d[2 * k] > 0 && truth.landmarks2d[2 * k] < 256 && truth.landmarks2d[2 * k + 1] > 0 && truth.landmarks2d[2 * k + 1] < 256);
  }
  const chinToBrow = Math.abs(truth.landmarks2d[2 * 8 + 1] - truth.landmarks2d[2 * 19 + 1]);
  assert.ok(chinToBrow > 0.12 * 256 && chinToBrow < 0.5 * 256, `chin to brow ${chinToBrow} px`);
  // The nose tip shows shading variation (texture + light), not a flat colour.
  const nose = [Math.round(truth.landmarks2d[2 * 30]), Math.round(truth.landmarks2d[2 * 30 + 1])];
  const values: number[] = [];
  for (let dy = -15; dy <= 15; dy++) for (let dx = -15; dx <= 15; dx++) {
    const i = 4 * ((nose[1] + dy) * 256 + nose[0] + dx);
    values.push(image.data[i] + image.data[i + 1] + image.data[i + 2]);
  }
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
  assert.ok(std > 3, `face patch std ${std}`);
  assert.ok(mean > 30, `face patch is lit (mean ${mean})`);
  assert.equal(truth.verticesModel.length, model.vertexCount * 3);
});

test('studio scenes follow the configured ranges', async () => {
  const model = await sharedModel();
  let maxYaw = 0;
  for (let i = 0; i < 40; i++) {
    const scene = sampleStudioScene(model, hashSeed('range', i));
    maxYaw = Math.max(maxYaw, Math.abs(scene.anglesDeg[1]));
    assert.ok(Math.abs(scene.anglesDeg[1]) <= 60);
    assert.ok(scene.expression.every((w) => w >= 0 && w <= 0.7));
    assert.ok(scene.translationMm[2] < -200, 'face in front of the camera');
  }
  assert.ok(maxYaw > 40, 'yaw range is used');
});
