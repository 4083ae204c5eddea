import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import {
  alignedVertexErrorsMm,
  benchmarkSceneSeed,
  formatBenchmarkTable,
  landmarkNme,
  runSyntheticBenchmark,
  noisyLandmarks,
} from '../../src/eval/synthetic-benchmark.ts';
import { summarizeErrors } from '../../src/eval/error-statistics.ts';
import { applySimilarityTransform } from '../../src/geometry/similarity-alignment.ts';
import { rotationFromEuler } from '../../src/geometry/rotation.ts';
import { Reconstructor } from '../../src/api/reconstruct.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { hashSeed } from '../../src/common/seeded-random.ts';
import { sharedModel } from '../helpers/model.ts';
import { runCli } from '../helpers/cli.ts';

test('error statistics', () => {
  const s = summarizeErrors([4, 1, 3, 2, 5, 6, 7, 8, 9, 10]);
  assert.equal(s.median, 5.5);
  assert.equal(s.mean, 5.5);
  assert.ok(Math.abs(s.p90 - 9.1) < 1e-12);
  assert.ok(Math.abs(s.std - Math.sqrt(8.25)) < 1e-12);
});

test('aligned vertex errors ignore a similarity transform and see a known deformation', async () => {
  const model = await sharedModel();
  const n = model.narrowFaceVertexCount;
  const moved = applySimilarityTransform(model.neutral, { scale: 1.2, rotation: rotationFromEuler(0.3, 0.5, -0.1), translation: Float64Array.from([5, 6, 7]) });
  const errors = alignedVertexErrorsMm(moved, model.neutral, n);
  assert.ok(Math.max(...errors) < 1e-6);
  // Push every narrow-face vertex 2 mm along +z or −z alternately: mean error stays ≈ 2 mm after alignment.
  const bumped = Float32Array.from(model.neutral);
  for (let v = 0; v < n; v++) bumped[3 * v + 2] += v % 2 ? 2 : -2;
  const bumpedErrors = summarizeErrors(alignedVertexErrorsMm(bumped, model.neutral, n));
  assert.ok(Math.abs(bumpedErrors.mean - 2) < 0.05, `mean ${bumpedErrors.mean}`);
  // NME: every landmark off by 10 % of the inter-ocular distance.
  const truth = new Float32Array(136);
  for (let k = 36; k < 42; k++) {
    truth[2 * k] = 100;
    truth[2 * k + 1] = 100;
  }
  for (let k = 42; k < 48; k++) {
    truth[2 * k] = 160;
    truth[2 * k + 1] = 100;
  }
  const predicted = truth.map((v, i) => (i % 2 ? v + 6 : v));
  assert.ok(Math.abs(landmarkNme(predicted, truth) - 0.1) < 1e-6);
  // Benchmark seeds come from their own stream.
  assert.notEqual(benchmarkSceneSeed(1, 0), hashSeed('train', 1, 0));
});

test('synthetic benchmark on 3 images through the library path', async () => {
  const model = await sharedModel();
  await initBackend();
  const tensorsBefore = tf.memory().numTensors;
  const reconstructor = await Reconstructor.create({ model, detector: await loadDetectorModelFiles() });
  const lines: string[] = [];
  try {
    const result = await runSyntheticBenchmark(model, reconstructor, { count: 3, seed: 1, fit: { landmarkSteps: 40, photometricSteps: 0 } }, (_i, _n, line) =>
      lines.push(line),
    );
    assert.equal(lines.length, 3);
    assert.deepEqual(
      result.rows.map((r) => r.name),
      ['mean-face', 'graphics'],
    );
    const [meanFace, graphics] = result.rows;
    assert.equal(meanFace.successRate, 1);
    assert.equal(meanFace.landmarkNme, null);
    assert.ok(meanFace.medianMm > 0.5 && meanFace.medianMm < 10, `mean-face median ${meanFace.medianMm}`);
    assert.ok(graphics.successRate > 0, 'at least one studio photo is detected and fitted');
    assert.ok(graphics.medianMm > 0 && graphics.medianMm < 10, `graphics median ${graphics.medianMm}`);
    assert.ok(graphics.landmarkNme! > 0 && graphics.landmarkNme! < 0.3, `NME ${graphics.landmarkNme}`);
    assert.ok(graphics.msPerImage > 0);
    const images = Object.values(graphics.byYaw).reduce((s, b) => s + b.images, 0);
    assert.equal(images, result.samples.graphics.filter((s) => s.ok).length);
    assert.match(formatBenchmarkTable(result.rows), /mean-face .*\n.*graphics/);
  } finally {
    reconstructor.dispose();
  }
  assert.equal(tf.memory().numTensors, tensorsBefore);
});

test('facegar eval synthetic --json prints the rows; bad options are usage errors', async () => {
  // --renderer graphics: the rows stay the same whether or not a GAR ships under models/.
  const quickGraphics = [
    'eval',
    'synthetic',
    '--n',
    '1',
    '--seed',
    '2',
    '--renderer',
    'graphics',
    '--landmark-steps',
    '20',
    '--photometric-steps',
    '0',
    '--json',
  ];
  const run = await runCli(quickGraphics);
  assert.equal(run.code, 0, run.stderr);
  const parsed = JSON.parse(run.stdout);
  assert.deepEqual(
    parsed.rows.map((r: { name: string }) => r.name),
    ['mean-face', 'graphics'],
  );
  for (const key of ['medianMm', 'meanMm', 'p90Mm', 'landmarkNme', 'successRate', 'msPerImage', 'byYaw']) assert.ok(key in parsed.rows[0], key);
  assert.match(run.stderr, /image 1\/1/);
  // --fit reaches the graphics fit: a prior this strong pins the identity to the prior's centre.
  const pinned = await runCli([...quickGraphics, '--fit', '{"identityPriorWeight": 10}']);
  assert.equal(pinned.code, 0, pinned.stderr);
  assert.notEqual(JSON.parse(pinned.stdout).rows[1].medianMm, parsed.rows[1].medianMm);
  for (const fit of ['{"identityPriorWeigth": 1}', '{"identityPriorWeight": "1"}', '[1]']) {
    const refused = await runCli(['eval', 'synthetic', '--n', '1', '--fit', fit]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /--fit|identityPriorWeigth/);
  }
  const bad = await runCli(['eval', 'synthetic', '--n', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^facegar: Expected integer ≥ 1 for --n/);
  const help = await runCli(['eval', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /facegar eval synthetic/);
});

test('--oracle-noise: the true points moved by seeded Gaussian noise of the asked fraction of their box', () => {
  // 68 points on a 100 × 64 px box (size sqrt(100 · 64) = 80 px).
  const truth = Float32Array.from({ length: 136 }, (_, i) => (i % 2 === 0 ? ((i / 2) % 2 === 0 ? 0 : 100) : ((i - 1) / 2) % 3 === 0 ? 0 : 64));
  const noisy = noisyLandmarks(truth, 0.02, 7);
  assert.deepEqual(noisy, noisyLandmarks(truth, 0.02, 7), 'the same seed, the same noise');
  assert.notDeepEqual(noisy, noisyLandmarks(truth, 0.02, 8), 'another image, other noise');
  let sum = 0;
  for (let i = 0; i < 136; i++) sum += (noisy[i] - truth[i]) ** 2;
  const sigmaPx = Math.sqrt(sum / 136);
  // Expected 0.02 × 80 = 1.6 px; 136 draws put the estimate within about ±20 %.
  assert.ok(sigmaPx > 1.6 * 0.7 && sigmaPx < 1.6 * 1.3, `noise ${sigmaPx.toFixed(2)} px, expected 1.6`);
});
