import test from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { createFaceEmbedder, type FaceEmbedder } from '../../src/detect/face-embedding.ts';
import { FaceMesh } from '../../src/detect/facemesh.ts';
import { loadGraphModelFromBytes } from '../../src/detect/graph-model.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { loadFaceEmbeddingModelFile } from '../../src/io/node/face-embedding-model.ts';
import { garNetworkConfig } from '../../src/gar/gar-config.ts';
import { Generator } from '../../src/gar/generator.ts';
import { GeometrySampler } from '../../src/gar/geometry-sampler.ts';
import { NormalEstimator } from '../../src/gar/normal-estimator.ts';
import { SeededRandom } from '../../src/common/seeded-random.ts';
import { kernelInceptionDistance, landmarkError, landmarksInAlignedCrop } from '../../src/eval/gar-quality-measures.ts';
import { embedCrops, formatGarQualityTable, measureGenerator, measureRealSet, validateGarQualityConfig } from '../../src/eval/gar-quality.ts';
import { renderQualityGrid } from '../../src/eval/gar-quality-grid.ts';
import { renderTrainingFace, syntheticRenderSizePx } from '../../src/gar/synthetic-faces.ts';
import { alignFaceCrop } from '../../src/detect/align-face-crop.ts';
import { applyAffine2D, type RgbaImage } from '../../src/common/image.ts';
import type { MorphableModel } from '../../src/morphable/morphable-model.ts';
import { sharedModel } from '../helpers/model.ts';

test('KID: the hand-computed two-point case, ~0 for one distribution, large for a shifted one', () => {
  // d = 1, m = 2: within a (0·1+1)³·2 = 2, within b (1·2+1)³·2 = 54, between 1+1+8+27 = 37 → 56/2 − 2·37/4 = 9.5.
  const exact = kernelInceptionDistance([Float32Array.of(0), Float32Array.of(1)], [Float32Array.of(1), Float32Array.of(2)], { subsets: 3 });
  assert.ok(Math.abs(exact.kid - 9.5) < 1e-9 && exact.std < 1e-9, JSON.stringify(exact));
  const random = new SeededRandom(1);
  const cloud = (n: number, shift: number) => Array.from({ length: n }, () => random.normals(8).map((v, i) => v + (i === 0 ? shift : 0)));
  const same = kernelInceptionDistance(cloud(60, 0), cloud(60, 0), { subsets: 20, subsetSize: 50 });
  const shifted = kernelInceptionDistance(cloud(60, 0), cloud(60, 2), { subsets: 20, subsetSize: 50 });
  assert.ok(Math.abs(same.kid) < 0.2 * shifted.kid, `same ${same.kid} vs shifted ${shifted.kid}`);
  assert.equal(same.subsetSize, 50);
  assert.throws(() => kernelInceptionDistance([Float32Array.of(1)], [Float32Array.of(1), Float32Array.of(2)]), /at least 2/);
});

test('landmark error: distances over the chosen points divided by the outer-eye-corner distance', () => {
  const reference = new Float32Array(136);
  reference[72] = 10;
  reference[90] = 30; // eye corners 36 and 45, 20 px apart on y = 0
  const found = reference.slice();
  for (let k = 17; k < 68; k++) found[2 * k + 1] += 2; // inner points 2 px lower
  assert.ok(Math.abs(landmarkError(found, reference) - 0.1) < 1e-6);
  assert.ok(Math.abs(landmarkError(found, reference, [0, 17]) - 0.05) < 1e-6, 'jaw point 0 unmoved');
});

/** A studio face aligned as `facegar prepare --synthetic` aligns it, with its truth landmarks in crop pixels. */
function studioCrop(model: MorphableModel, seed: number, index: number, size: number): { crop: RgbaImage; landmarks68: Float32Array } {
  const { image, truth } = renderTrainingFace(model, seed, index, syntheticRenderSizePx(size));
  const { crop, cropFromImage } = alignFaceCrop(image, truth.landmarks2d, size);
  for (let i = 3; i < crop.data.length; i += 4) crop.data[i] = 255;
  const landmarks68 = new Float32Array(136);
  for (let k = 0; k < 68; k++) landmarks68.set(applyAffine2D(cropFromImage, truth.landmarks2d[2 * k], truth.landmarks2d[2 * k + 1]), 2 * k);
  return { crop, landmarks68 };
}

let judges: { embedder: FaceEmbedder; faceMesh: FaceMesh } | undefined;
async function sharedJudges() {
  await initBackend();
  if (!judges) {
    const files = await loadDetectorModelFiles();
    judges = {
      embedder: await createFaceEmbedder(await loadFaceEmbeddingModelFile()),
      faceMesh: new FaceMesh(await loadGraphModelFromBytes(files.facemesh, 'facemesh')),
    };
  }
  return judges;
}
test.after(() => {
  judges?.embedder.dispose();
  judges?.faceMesh.dispose();
});

test('FaceMesh finds a studio face where its model landmarks are; a flat grey crop is no face', async () => {
  const { faceMesh } = await sharedJudges();
  const model = await sharedModel();
  const face = studioCrop(model, 0, 3, 64);
  const found = await landmarksInAlignedCrop(faceMesh, face.crop);
  assert.ok(found.score > 0.5, `face score ${found.score}`);
  assert.ok(landmarkError(found.landmarks68, face.landmarks68) < 0.15, `NME ${landmarkError(found.landmarks68, face.landmarks68)}`);
  const grey = { width: 32, height: 32, data: new Uint8ClampedArray(32 * 32 * 4).fill(128) };
  assert.ok((await landmarksInAlignedCrop(faceMesh, grey)).score < 0.25);
});

test('measureGenerator on a tiny random generator: every measure, deterministic per seed, no tensors left', async () => {
  const { embedder, faceMesh } = await sharedJudges();
  const model = await sharedModel();
  const generator = new Generator(garNetworkConfig('tiny'), 1);
  const sampler = new GeometrySampler(model, { resolution: 32 });
  const normalEstimator = new NormalEstimator({ resolution: 32, channels: [4, 4] });
  const real = Array.from({ length: 8 }, (_, i) => studioCrop(model, 1, i, 32));
  const realFeatures = embedCrops(
    embedder,
    real.map((r) => r.crop),
    4,
  );
  const config = { count: 6, swaps: 2, kidSubsets: 4, kidSubsetSize: 4, batchSize: 6, refineIterations: 1, seed: 5 };
  const before = tf.memory().numTensors;
  const first = await measureGenerator(generator, sampler, realFeatures, { embedder, faceMesh, normalEstimator }, config);
  assert.equal(tf.memory().numTensors, before, 'no tensors left');
  const again = await measureGenerator(generator, sampler, realFeatures, { embedder, faceMesh }, config);
  assert.equal(again.kid, first.kid, 'same seed, same KID');
  assert.deepEqual(again.landmarks, first.landmarks);
  assert.ok(Number.isFinite(first.kid) && first.kid > 0, `KID ${first.kid}`);
  assert.ok(first.landmarks.nmeInner > 0 && first.landmarks.faceRate >= 0 && first.landmarks.faceRate <= 1);
  const swap = first.swap!;
  for (const rate of [swap.followsGeometryRate, swap.latentKeepsIdentityRate]) assert.ok(rate >= 0 && rate <= 1);
  assert.ok(swap.cosineSameLatent <= 1 && swap.cosineSameGeometry <= 1 && swap.latentLandmarkShift >= 0);
  assert.ok(first.normalAngleDeg! > 0 && first.normalAngleDeg! < 180, `normal angle ${first.normalAngleDeg}`);
  assert.ok(first.timesMs.kid > 0 && first.timesMs.landmarks > 0 && first.timesMs.swap > 0);

  const floor = await measureRealSet(realFeatures, { embedder, faceMesh }, config, {
    crops: real.map((r) => r.crop),
    truthLandmarks: real.map((r) => r.landmarks68),
  });
  assert.ok(floor.kid < first.kid, `real-vs-real ${floor.kid} below a random generator's ${first.kid}`);
  assert.ok(floor.landmarks!.nmeInner < first.landmarks.nmeInner, `real ${floor.landmarks!.nmeInner} vs random ${first.landmarks.nmeInner}`);
  const table = formatGarQualityTable([
    { name: 'random', quality: first },
    { name: 'real vs real', quality: floor },
  ]);
  assert.match(table, /KID ×10³/);
  assert.match(table, /random/);

  const grid = renderQualityGrid([generator, generator], sampler, { rows: 2, latents: 2, gapPx: 2 });
  assert.equal(grid.height, 3 * 32 + 6);
  assert.equal(grid.width, 2 * (4 * 32 + 2) + 2, 'two blocks of max(latents + 1, 4) cells');
  assert.throws(() => validateGarQualityConfig({ count: 2 }), /count/);
  generator.dispose();
  normalEstimator.dispose();
});
