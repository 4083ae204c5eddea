// The identity regressor: pose-free mesh features, the ridge fit, the file format and the prior combination.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScript } from '../helpers/scripts.ts';
import { photosDir } from '../helpers/shared-data.ts';
import { mirrorImage } from '../../src/common/image.ts';
import { alignFaceCrop } from '../../src/detect/align-face-crop.ts';
import { createFaceEmbedder } from '../../src/detect/face-embedding.ts';
import { createFaceDetector } from '../../src/detect/index.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { loadFaceEmbeddingModelFile } from '../../src/io/node/face-embedding-model.ts';
import { SeededRandom } from '../../src/common/seeded-random.ts';
import { loadIdentityRegressor } from '../../src/api/regressor-loading.ts';
import { sharedModel } from '../helpers/model.ts';
import { rotationFromEuler } from '../../src/geometry/rotation.ts';
import {
  combineIdentityEstimates,
  decodeIdentityRegressor,
  EMBEDDING_CROP_PX,
  encodeIdentityRegressor,
  faceEmbedding,
  FULL_EMBEDDING_INPUT_PX,
  featureCount,
  fitIdentityRegressor,
  identityFeatures,
  meanAlignedMesh,
  meshShapeResidual,
  MESH_VALUE_COUNT,
  regressIdentity,
  type IdentityRegressor,
} from '../../src/invert/identity-regressor.ts';

const random = new SeededRandom(7);
const randomArray = (n: number, scale = 1) => Float32Array.from({ length: n }, () => scale * random.normal());

/** The mesh turned, scaled and moved as a whole. */
function moved(mesh: Float32Array, pitch: number, yaw: number, roll: number, scale: number, shift: [number, number, number]): Float32Array {
  const r = rotationFromEuler(pitch, yaw, roll);
  const out = new Float32Array(mesh.length);
  for (let i = 0; i < mesh.length; i += 3) {
    const [x, y, z] = [mesh[i], mesh[i + 1], mesh[i + 2]];
    for (let a = 0; a < 3; a++) out[i + a] = scale * (r[3 * a] * x + r[3 * a + 1] * y + r[3 * a + 2] * z) + shift[a];
  }
  return out;
}

test('the mesh feature keeps shape and drops pose, size and place', () => {
  const reference = randomArray(MESH_VALUE_COUNT, 50);
  const mesh = Float32Array.from(reference, (v) => v + 2 * random.normal());
  const residual = meshShapeResidual(mesh, reference);
  const posed = meshShapeResidual(moved(mesh, 0.3, -0.9, 0.2, 2.5, [300, -40, 900]), reference);
  const worst = residual.reduce((m, v, i) => Math.max(m, Math.abs(v - posed[i])), 0);
  assert.ok(worst < 1e-2, `residual changed by ${worst} under a similarity`);
  // A shape change is not removed: the residual of a wider face differs.
  const wider = Float32Array.from(mesh, (v, i) => (i % 3 === 0 ? 1.2 * v : v));
  const change = meshShapeResidual(wider, reference).reduce((m, v, i) => Math.max(m, Math.abs(v - residual[i])), 0);
  assert.ok(change > 1, `a 20 % wider mesh moved the residual by only ${change}`);
  assert.throws(() => meshShapeResidual(new Float32Array(10), reference), /1404 numbers/);
});

test('the mean aligned mesh of posed copies of one mesh is that mesh (up to a similarity)', () => {
  const mesh = randomArray(MESH_VALUE_COUNT, 50);
  const rows = 4;
  const meshes = new Float32Array(rows * MESH_VALUE_COUNT);
  for (let n = 0; n < rows; n++) meshes.set(moved(mesh, 0.1 * n, -0.2 * n, 0.05 * n, 1 + 0.1 * n, [10 * n, 0, 500]), n * MESH_VALUE_COUNT);
  const mean = meanAlignedMesh(meshes, rows);
  const residual = meshShapeResidual(mesh, mean);
  assert.ok(residual.every((v) => Math.abs(v) < 1e-2));
});

test('the ridge fit recovers a linear map from embedding and mesh to identity; predictions are clamped to ±5', () => {
  const D = 8,
    K = 3,
    rows = 400;
  const F = featureCount(D);
  const reference = randomArray(MESH_VALUE_COUNT, 50);
  // Identity = A · embedding (the mesh carries nothing here), plus a constant.
  const map = randomArray(D * K);
  const embeddings: Float32Array[] = [],
    meshes: Float32Array[] = [];
  const features = new Float32Array(rows * F),
    identities = new Float32Array(rows * K);
  for (let n = 0; n < rows; n++) {
    const embedding = randomArray(D);
    const mesh = moved(
      Float32Array.from(reference, (v) => v + 0.5 * random.normal()),
      0.2 * random.normal(),
      0.5 * random.normal(),
      0,
      1,
      [0, 0, 600],
    );
    embeddings.push(embedding);
    meshes.push(mesh);
    features.set(identityFeatures(embedding, mesh, reference), n * F);
    for (let k = 0; k < K; k++) {
      let sum = 0.5;
      for (let d = 0; d < D; d++) sum += map[d * K + k] * embedding[d];
      identities[n * K + k] = sum;
    }
  }
  const regressor = fitIdentityRegressor(features, identities, rows, D, reference, 1e-3);
  const worst = embeddings.reduce((m, embedding, n) => {
    const predicted = regressIdentity(regressor, embedding, meshes[n]);
    return Math.max(m, ...Array.from(predicted, (p, k) => (Math.abs(identities[n * K + k]) < 5 ? Math.abs(p - identities[n * K + k]) : 0)));
  }, 0);
  assert.ok(worst < 0.05, `largest error ${worst}`);
  const huge = regressIdentity(
    regressor,
    Float32Array.from(embeddings[0], (v) => 1000 * v),
    meshes[0],
  );
  assert.ok(huge.every((v) => Math.abs(v) <= 5) && huge.some((v) => Math.abs(v) === 5));
  assert.throws(() => regressIdentity(regressor, new Float32Array(D + 1), meshes[0]), /8 numbers/);
});

test('the same-person term makes the regressor ignore what varies within a person', () => {
  // Rendered faces: identity = embedding[0]; embedding[1] tracks it loosely (as light or expression
  // can track shape in a render set), so plain ridge leans on it. Real photos of one person differ
  // along embedding[1] alone: the invariance term must take that lean away.
  const D = 4,
    rows = 300,
    F = featureCount(D);
  const reference = randomArray(MESH_VALUE_COUNT, 50);
  const features = new Float32Array(rows * F),
    identities = new Float32Array(rows);
  for (let n = 0; n < rows; n++) {
    const identity = random.normal();
    const embedding = Float32Array.of(identity + 0.7 * random.normal(), identity + 0.3 * random.normal(), random.normal(), random.normal());
    features.set(identityFeatures(embedding, reference, reference), n * F);
    identities[n] = identity;
  }
  const personRows = 50;
  const differences = new Float32Array(personRows * F);
  for (let n = 0; n < personRows; n++) differences[n * F + 1] = 2 * random.normal();
  const plain = fitIdentityRegressor(features, identities, rows, D, reference, 1);
  const invariant = fitIdentityRegressor(features, identities, rows, D, reference, 1, { differences, rows: personRows, weight: 100 });
  // The change of the prediction when only embedding[1] moves by 1.
  const lean = (r: IdentityRegressor) => regressIdentity(r, Float32Array.of(0, 1, 0, 0), reference)[0] - regressIdentity(r, new Float32Array(D), reference)[0];
  assert.ok(lean(plain) > 0.4, `plain ridge leans ${lean(plain)} on the tracking feature`);
  assert.ok(Math.abs(lean(invariant)) < 0.05 * lean(plain), `with the term it still leans ${lean(invariant)}`);
  // It still reads identity from embedding[0].
  const fromIdentity = regressIdentity(invariant, Float32Array.of(1, 0, 0, 0), reference)[0] - regressIdentity(invariant, new Float32Array(D), reference)[0];
  assert.ok(fromIdentity > 0.3, `identity feature weight ${fromIdentity}`);
  // Weight 0 is plain ridge; malformed terms are refused.
  const zero = fitIdentityRegressor(features, identities, rows, D, reference, 1, { differences, rows: personRows, weight: 0 });
  assert.ok(Math.abs(lean(zero) - lean(plain)) < 1e-4);
  assert.throws(
    () => fitIdentityRegressor(features, identities, rows, D, reference, 1, { differences: new Float32Array(3), rows: personRows, weight: 1 }),
    /rows of/,
  );
  assert.throws(() => fitIdentityRegressor(features, identities, rows, D, reference, 1, { differences, rows: personRows, weight: -1 }), /≥ 0/);
});

test('a regressor survives its file format; damaged files are refused', () => {
  const D = 4,
    K = 2,
    F = featureCount(D);
  const regressor: IdentityRegressor = {
    embeddingDimension: D,
    identityCount: K,
    referenceMesh: randomArray(MESH_VALUE_COUNT),
    featureMean: randomArray(F),
    featureScale: Float32Array.from(randomArray(F), (v) => 1 + Math.abs(v)),
    weights: randomArray((F + 1) * K),
    errorStd: Float32Array.from([0.5, 0.9]),
    mirrorAverage: false,
  };
  const bytes = encodeIdentityRegressor(regressor);
  assert.deepEqual(decodeIdentityRegressor(bytes), regressor);
  const mirrorAverage = encodeIdentityRegressor({ ...regressor, mirrorAverage: true });
  assert.deepEqual(
    [new DataView(bytes.buffer).getUint32(4, true), new DataView(mirrorAverage.buffer).getUint32(4, true)],
    [1, 2],
    'the version says which embedding',
  );
  assert.deepEqual(decodeIdentityRegressor(mirrorAverage), { ...regressor, mirrorAverage: true });
  // Version 3: the embedding network runs at FaceRes's training size, and the loader must know.
  const fullSize = encodeIdentityRegressor({ ...regressor, mirrorAverage: true, embeddingInputPx: FULL_EMBEDDING_INPUT_PX });
  assert.equal(new DataView(fullSize.buffer).getUint32(4, true), 3);
  assert.deepEqual(decodeIdentityRegressor(fullSize), { ...regressor, mirrorAverage: true, embeddingInputPx: FULL_EMBEDDING_INPUT_PX });
  assert.throws(() => encodeIdentityRegressor({ ...regressor, embeddingInputPx: FULL_EMBEDDING_INPUT_PX }), /mirror-average/);
  assert.throws(() => encodeIdentityRegressor({ ...regressor, mirrorAverage: true, embeddingInputPx: 160 }), /embeddingInputPx/);
  const unknownVersion = bytes.slice();
  new DataView(unknownVersion.buffer).setUint32(4, 4, true);
  assert.throws(() => decodeIdentityRegressor(unknownVersion), /version 1–3/);
  assert.throws(() => decodeIdentityRegressor(bytes.slice(0, bytes.length - 4)), /bytes/);
  const wrongMagic = bytes.slice();
  wrongMagic[0] ^= 0xff;
  assert.throws(() => decodeIdentityRegressor(wrongMagic), /identity regressor/);
  const notFinite = bytes.slice();
  new DataView(notFinite.buffer).setFloat32(16, NaN, true);
  assert.throws(() => decodeIdentityRegressor(notFinite), /finite/);
  const zeroError = bytes.slice();
  new DataView(zeroError.buffer).setFloat32(zeroError.length - 4, 0, true);
  assert.throws(() => decodeIdentityRegressor(zeroError), /positive/);
});

test('two estimates combine by precision: hand-computed values', () => {
  const combined = combineIdentityEstimates(
    { mean: Float32Array.from([0, 2]), precision: Float32Array.from([1, 3]) },
    { mean: Float32Array.from([4, -2]), precision: Float32Array.from([3, 1]) },
  );
  assert.deepEqual(Array.from(combined.mean), [3, 1]); // (0·1 + 4·3)/4, (2·3 − 2·1)/4
  assert.deepEqual(Array.from(combined.precision), [4, 4]);
  assert.throws(() =>
    combineIdentityEstimates({ mean: new Float32Array(2), precision: new Float32Array(2) }, { mean: new Float32Array(3), precision: new Float32Array(3) }),
  );
});

test('scripts/fit-identity-regressor.ts fits a regressor on studio renders that the pipeline can read, with its errors measured on others', async () => {
  const out = await mkdtemp(join(tmpdir(), 'facegar-identity-regressor-'));
  try {
    const run = await runScript(
      'scripts/fit-identity-regressor.ts',
      ['--studio', '11:60', '--holdout-studio', '12:12', '--lambdas', '300,3000', '--out', out],
      {
        timeoutMs: 600_000,
      },
    );
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    const bytes = new Uint8Array(await readFile(join(out, 'identity-regressor.bin')));
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8'));
    assert.equal(manifest.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.deepEqual(manifest.heldOut, ['studio 12:12']);
    const regressor = decodeIdentityRegressor(bytes);
    assert.equal(regressor.mirrorAverage, true, 'mirror-average by default');
    assert.equal(regressor.embeddingInputPx, FULL_EMBEDDING_INPUT_PX, 'FaceRes at its training size by default');
    assert.equal(manifest.format, 'facegar-identity-regressor-3');
    assert.equal(regressor.embeddingDimension, 1024);
    assert.equal(regressor.identityCount, 100);
    assert.ok(
      regressor.errorStd.every((e) => e > 0.05 && e < 5),
      'per-mode errors in prior units, measured on the held-out renders',
    );
    const report = JSON.parse(run.stdout);
    assert.ok([300, 3000].includes(report.lambda));
    assert.ok(report.holdout.ratioToMeanFace > 0.3 && report.holdout.ratioToMeanFace < 3, JSON.stringify(report.holdout));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('scripts/fit-identity-regressor.ts refuses a feature cache made at another FaceRes size', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-identity-cache-'));
  try {
    const cache = join(dir, 'features.jsonl');
    // One cached studio face as a 112² (version-2) run wrote it: no size field.
    const sample = { key: 'studio-12/0', identity: [0], embedding: [0], embeddingMirrored: [0], mesh: [0] };
    await writeFile(cache, JSON.stringify(sample) + '\n');
    const run = await runScript('scripts/fit-identity-regressor.ts', ['--studio', '12:1', '--holdout-studio', '12:1', '--cache', cache], {
      timeoutMs: 200_000,
    });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /studio-12\/0 was embedded at 112², not --embedding-size 224/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the mirror-average embedding is the mean of the aligned crop's and its mirror image's", async () => {
  await initBackend({ backend: 'wasm' });
  const [embedder, detector] = await Promise.all([
    loadFaceEmbeddingModelFile().then(createFaceEmbedder),
    loadDetectorModelFiles().then((files) => createFaceDetector(files)),
  ]);
  try {
    const image = await decodeImageFile(join(photosDir, '000002.jpg'));
    const { landmarks68 } = (await detector.detect(image))[0];
    const crop = alignFaceCrop(image, landmarks68, EMBEDDING_CROP_PX).crop;
    const [plain, mirrored] = [embedder.embedImages([crop])[0], embedder.embedImages([mirrorImage(crop)])[0]];
    const averaged = faceEmbedding(embedder, image, landmarks68, true);
    assert.deepEqual(faceEmbedding(embedder, image, landmarks68), plain);
    const worst = Math.max(...Array.from(averaged, (v, i) => Math.abs(v - (plain[i] + mirrored[i]) / 2)));
    assert.ok(worst < 1e-5, `off by ${worst}`);
    assert.ok(Math.max(...Array.from(plain, (v, i) => Math.abs(v - mirrored[i]))) > 1e-3, 'the mirror image embeds differently');
  } finally {
    embedder.dispose();
    detector.dispose();
  }
});

test('a version-3 regressor gets FaceRes run at 224², a version-2 one at 112²', async () => {
  await initBackend();
  const model = await sharedModel();
  const D = 1024,
    K = model.identityCount,
    F = featureCount(D);
  const regressor: IdentityRegressor = {
    embeddingDimension: D,
    identityCount: K,
    referenceMesh: new Float32Array(MESH_VALUE_COUNT),
    featureMean: new Float32Array(F),
    featureScale: new Float32Array(F).fill(1),
    weights: new Float32Array((F + 1) * K),
    errorStd: new Float32Array(K).fill(1),
    mirrorAverage: true,
  };
  const embedding = await loadFaceEmbeddingModelFile();
  for (const [embeddingInputPx, expected] of [
    [undefined, 112],
    [FULL_EMBEDDING_INPUT_PX, 224],
  ] as const) {
    const loaded = await loadIdentityRegressor(
      { weights: encodeIdentityRegressor({ ...regressor, ...(embeddingInputPx ? { embeddingInputPx } : {}) }), embedding },
      model,
    );
    try {
      assert.equal(loaded.embedder.inputSize, expected);
      assert.equal(loaded.regressor.embeddingInputPx, embeddingInputPx);
    } finally {
      loaded.embedder.dispose();
    }
  }
});
