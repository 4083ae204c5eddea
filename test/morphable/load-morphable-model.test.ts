import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { modelDir } from '../helpers/shared-data.ts';
import { loadMorphableModel } from '../../src/io/node/load-morphable-model.ts';
import { evaluateMorphableModel } from '../../src/morphable/morphable-model.ts';
import { ModelUnavailableError } from '../../src/common/errors.ts';

// The 68 Multi-PIE landmark vertices as listed in the model's README.
const README_LANDMARKS = [
  1225, 1888, 1052, 367, 1719, 1722, 2199, 1447, 966, 3661, 4390, 3927, 3924, 2608, 3272, 4088, 3443, 268, 493, 1914, 2044, 1401, 3615, 4240, 4114, 2734, 2509,
  978, 4527, 4942, 4857, 1140, 2075, 1147, 4269, 3360, 1507, 1542, 1537, 1528, 1518, 1511, 3742, 3751, 3756, 3721, 3725, 3732, 5708, 5695, 2081, 0, 4275, 6200,
  6213, 6346, 6461, 5518, 5957, 5841, 5702, 5711, 5533, 6216, 6207, 6470, 5517, 5966,
];

test('ICT-FaceKit loads from .obj.gz files, then from the compact cache in well under a second', async () => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'facegar-cache-'));
  const first = await loadMorphableModel({ modelDir, cacheDir });
  assert.equal(first.fromCache, false);
  const model = first.model;
  assert.equal(model.vertexCount, 9409);
  assert.equal(model.identityCount, 100);
  assert.equal(model.expressionNames.length, 53);
  assert.ok(model.expressionNames.includes('jawOpen'));
  assert.deepEqual(Array.from(model.landmarkVertexIndices), README_LANDMARKS);
  // 9230 face-area polygons, mostly quads split in two.
  const triangleCount = model.triangles.length / 3;
  assert.ok(triangleCount > 9230 && triangleCount <= 2 * 9230, `triangles ${triangleCount}`);
  assert.ok(Math.max(...model.triangles) < 9409);
  assert.equal(model.triangleUvIndices.length, model.triangles.length);
  // Millimetres: outer eye corners (landmarks 36, 45) of an average adult are ~85–100 mm apart.
  const p = (k: number) => Array.from(model.neutral.subarray(model.landmarkVertexIndices[k] * 3, model.landmarkVertexIndices[k] * 3 + 3));
  const eyeDistance = Math.hypot(...p(36).map((v, i) => v - p(45)[i]));
  assert.ok(eyeDistance > 80 && eyeDistance < 105, `eye corners ${eyeDistance} mm apart`);
  // Identity modes are deltas: mode 0 moves the face by millimetres, not by a whole face.
  const moved = evaluateMorphableModel(model, [1], []);
  let largest = 0;
  for (let i = 0; i < moved.length; i++) largest = Math.max(largest, Math.abs(moved[i] - model.neutral[i]));
  assert.ok(largest > 1 && largest < 30, `identity mode 0 moves up to ${largest} mm`);

  const second = await loadMorphableModel({ modelDir, cacheDir });
  assert.equal(second.fromCache, true);
  assert.deepEqual(second.model.neutral, model.neutral);
  assert.deepEqual(second.model.identityBasis.subarray(0, 1000), model.identityBasis.subarray(0, 1000));
  assert.deepEqual(second.model.triangles, model.triangles);
});

test('a corrupt compact cache is rebuilt, not trusted', async () => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'facegar-cache-'));
  const first = await loadMorphableModel({ modelDir, cacheDir });
  await writeFile(first.compactPath, Buffer.from('FGMM garbage'));
  const again = await loadMorphableModel({ modelDir, cacheDir });
  assert.equal(again.fromCache, false);
  assert.deepEqual(again.model.neutral, first.model.neutral);
});

async function copyOfModel(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-model-'));
  for (const name of await readdir(modelDir)) await symlink(join(modelDir, name), join(dir, name));
  return dir;
}

test('missing or corrupt model files give ModelUnavailableError naming the file', async () => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'facegar-cache-'));
  await assert.rejects(
    loadMorphableModel({ modelDir: '/nonexistent/model', cacheDir }),
    (error: unknown) => error instanceof ModelUnavailableError && /\/nonexistent\/model: model directory not found/.test(error.message) && error.exitCode === 6,
  );

  const missing = await copyOfModel();
  await rm(join(missing, 'identity042.obj.gz'));
  await assert.rejects(loadMorphableModel({ modelDir: missing, cacheDir }), /identity042\.obj: missing from the model directory/);

  const truncated = await copyOfModel();
  await rm(join(truncated, 'jawOpen.obj.gz'));
  await writeFile(join(truncated, 'jawOpen.obj.gz'), gzipSync('v 1 2 3\nv 4 5 6\n'));
  await assert.rejects(loadMorphableModel({ modelDir: truncated, cacheDir }), /jawOpen\.obj: 2 vertices, expected at least 9409/);

  const notGzip = await copyOfModel();
  await rm(join(notGzip, 'identity000.obj.gz'));
  await writeFile(join(notGzip, 'identity000.obj.gz'), 'not gzip at all');
  await assert.rejects(loadMorphableModel({ modelDir: notGzip, cacheDir }), /identity000\.obj\.gz: corrupt gzip data/);
});

test('plain .obj files load the same as .obj.gz', async () => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'facegar-cache-'));
  const plain = await copyOfModel();
  await rm(join(plain, 'generic_neutral_mesh.obj.gz'));
  await writeFile(join(plain, 'generic_neutral_mesh.obj'), gunzipSync(await readFile(join(modelDir, 'generic_neutral_mesh.obj.gz'))));
  const fromPlain = await loadMorphableModel({ modelDir: plain, cacheDir });
  const fromGzip = await loadMorphableModel({ modelDir, cacheDir });
  assert.deepEqual(fromPlain.model.neutral, fromGzip.model.neutral);
});
