import test from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { invertAffine2D, warpAffine, type RgbaImage } from '../../src/common/image.ts';
import { ALIGNED_CROP_TEMPLATE, fitSimilarity2D } from '../../src/detect/align-face-crop.ts';
import { createFaceEmbedder, type FaceEmbedder } from '../../src/detect/face-embedding.ts';
import { loadFaceEmbeddingModelFile } from '../../src/io/node/face-embedding-model.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';
import { garNetworkConfig } from '../../src/gar/gar-config.ts';
import { Generator } from '../../src/gar/generator.ts';
import { GeometrySampler, type SampledGeometry } from '../../src/gar/geometry-sampler.ts';
import { SeededRandom } from '../../src/common/seeded-random.ts';
import {
  createIdentityConsistencyLoss,
  identityContrastiveLoss,
  identityGroups,
  samplePairedGeometries,
  validateIdentityConsistencyConfig,
} from '../../src/gar/identity-consistency.ts';
import { sharedModel } from '../helpers/model.ts';
import { listExamplePhotos, readFivePoints } from '../detect/photo-data.ts';

let embedder: FaceEmbedder | undefined;
async function sharedEmbedder(): Promise<FaceEmbedder> {
  await initBackend();
  embedder ??= await createFaceEmbedder(await loadFaceEmbeddingModelFile());
  return embedder;
}
test.after(() => embedder?.dispose());

/** Example photo `index` aligned to a 64² crop as [1, 64, 64, 3] in −1…1, optionally mirrored. */
async function photoTensor(index: number, mirror = false): Promise<tf.Tensor4D> {
  const photo = (await listExamplePhotos())[index];
  const p = await readFivePoints(photo.name);
  const to = ALIGNED_CROP_TEMPLATE.map(([x, y]) => [x * 64, y * 64] as [number, number]);
  const crop: RgbaImage = warpAffine(await decodeImageFile(photo.path), invertAffine2D(fitSimilarity2D([p[0], p[1], p[3], p[4]], to)), 64, 64);
  const values = new Float32Array(64 * 64 * 3);
  for (let y = 0; y < 64; y++)
    for (let x = 0; x < 64; x++)
      for (let c = 0; c < 3; c++) {
        values[(y * 64 + x) * 3 + c] = crop.data[(y * 64 + (mirror ? 63 - x : x)) * 4 + c] / 127.5 - 1;
      }
  return tf.tensor4d(values, [1, 64, 64, 3]);
}

test('lower for a batch of matching pairs (photo, its mirror) than for the same groups over four different people', async () => {
  const e = await sharedEmbedder();
  const [a, aMirror, b, bMirror, c, d] = await Promise.all([
    photoTensor(0),
    photoTensor(0, true),
    photoTensor(1),
    photoTensor(1, true),
    photoTensor(2),
    photoTensor(3),
  ]);
  const groups = [0, 0, 1, 1];
  const matching = tf.concat([a, aMirror, b, bMirror]) as tf.Tensor4D,
    mismatched = tf.concat([a, c, b, d]) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const low = identityContrastiveLoss(e, matching, groups),
    high = identityContrastiveLoss(e, mismatched, groups);
  const [lowValue, highValue] = [low.dataSync()[0], high.dataSync()[0]];
  tf.dispose([low, high]);
  assert.equal(tf.memory().numTensors, before, 'no tensors left');
  assert.ok(lowValue >= 0 && highValue > 2 * lowValue, `matching ${lowValue.toFixed(3)} vs mismatched ${highValue.toFixed(3)}`);
  // One group only: nothing to push, the pull alone; all different: the push alone, ≥ 0.
  const pullOnly = identityContrastiveLoss(e, tf.concat([a, a]) as tf.Tensor4D, [0, 0]);
  assert.ok(Math.abs(pullOnly.dataSync()[0]) < 1e-4, 'identical images in one group cost nothing');
  const pushOnly = identityContrastiveLoss(e, matching, [0, 1, 2, 3], { margin: -1 });
  assert.ok(pushOnly.dataSync()[0] > 0, 'margin −1 pushes every different pair');
  tf.dispose([a, aMirror, b, bMirror, c, d, matching, mismatched, pullOnly, pushOnly]);
  assert.throws(() => validateIdentityConsistencyConfig({ margin: 2 }), /margin/);
  assert.throws(() => identityContrastiveLoss(e, tf.zeros([2, 32, 32, 3]), [0]), /groups/);
});

test('the hook groups by (ws, identity) and its gradient reaches the generator variables', async () => {
  const e = await sharedEmbedder();
  const model = await sharedModel();
  const generator = new Generator(garNetworkConfig('tiny'), 3);
  const sampler = new GeometrySampler(model, { resolution: generator.config.resolution });
  const random = new SeededRandom(7);
  const geometries = samplePairedGeometries(sampler, random, 2);
  assert.equal(geometries.length, 4);
  assert.deepEqual(geometries[1].identity, geometries[0].identity, 'a pair shares the identity coefficients');
  assert.notDeepEqual(geometries[1].eulerRad, geometries[0].eulerRad, 'and differs in pose');
  assert.notDeepEqual(geometries[2].identity, geometries[0].identity);
  const zPairs = random.normals(2 * generator.config.zDim);
  const z = new Float32Array(4 * generator.config.zDim);
  for (let k = 0; k < 4; k++) z.set(zPairs.subarray((k >> 1) * generator.config.zDim, ((k >> 1) + 1) * generator.config.zDim), k * generator.config.zDim);
  const normals = sampler.renderNormalMaps(geometries);
  const zTensor = tf.tensor2d(z, [4, generator.config.zDim]);
  const loss = createIdentityConsistencyLoss(e);
  const before = tf.memory().numTensors;
  let groups: number[] = [];
  const { value, grads } = tf.variableGrads(
    () =>
      tf.tidy(() => {
        const ws = generator.mapLatents(zTensor);
        groups = identityGroups(ws, geometries);
        return loss(generator.synthesize(ws, normals), ws, geometries);
      }),
    generator.trainableVariables(),
  );
  assert.deepEqual(groups, [0, 0, 1, 1]);
  assert.ok(Number.isFinite(value.dataSync()[0]) && value.dataSync()[0] >= 0);
  const norms = Object.entries(grads).map(([name, g]) => [name, tf.tidy(() => tf.norm(g).dataSync()[0])] as const);
  // Both halves of G: the mapping network (through w) and the synthesis network.
  const reached = new Set(norms.filter(([, n]) => n > 0).map(([name]) => name));
  for (const part of ['mapping', 'synthesis']) {
    const variables = generator.namedParameters().filter(([path, v]) => path.startsWith(part) && v.trainable);
    assert.ok(
      variables.some(([, v]) => reached.has(v.name)),
      `a non-zero gradient reaches the ${part} network`,
    );
  }
  assert.ok(
    norms.every(([, n]) => Number.isFinite(n)),
    'finite gradients',
  );
  assert.ok(
    norms.filter(([, n]) => n > 0).length > norms.length / 2,
    `gradients reach the generator: ${norms.filter(([, n]) => n > 0).length}/${norms.length} non-zero`,
  );
  tf.dispose([value, ...Object.values(grads)]);
  assert.equal(tf.memory().numTensors, before, 'no tensors left');
  tf.dispose([normals, zTensor]);
  generator.dispose();
});

test('the hook embeds only the first maxImages renders, whole pairs, and refuses an odd cap', async () => {
  const e = await sharedEmbedder();
  const [a, aMirror, c, d] = await Promise.all([photoTensor(0), photoTensor(0, true), photoTensor(2), photoTensor(3)]);
  // Rows 0–1 a matching pair; rows 2–3 a pair of two different people, which would add a pull if embedded.
  const images = tf.concat([a, aMirror, c, d]) as tf.Tensor4D;
  const identity = new Float32Array([1, 2]);
  const geometries = [0, 0, 1, 1].map((k) => ({ identity: k === 0 ? identity : identity.map((v) => v + 1) })) as unknown as SampledGeometry[];
  const ws = tf.tensor3d([0, 0, 0, 0, 1, 1, 1, 1], [4, 1, 2]);
  const capped = createIdentityConsistencyLoss(e, { maxImages: 2 })(images, ws, geometries);
  const firstPair = identityContrastiveLoss(e, tf.slice(images, 0, 2), [0, 0]);
  const whole = createIdentityConsistencyLoss(e, { maxImages: 4 })(images, ws, geometries);
  const [cappedValue, firstPairValue, wholeValue] = [capped.dataSync()[0], firstPair.dataSync()[0], whole.dataSync()[0]];
  assert.ok(Math.abs(cappedValue - firstPairValue) < 1e-6, `capped ${cappedValue} equals the first pair's loss ${firstPairValue}`);
  assert.ok(wholeValue > cappedValue + 0.05, `the mismatched second pair counts when embedded: ${wholeValue.toFixed(3)} vs ${cappedValue.toFixed(3)}`);
  tf.dispose([a, aMirror, c, d, images, ws, capped, firstPair, whole]);
  assert.throws(() => validateIdentityConsistencyConfig({ maxImages: 3 }), /maxImages/);
});
