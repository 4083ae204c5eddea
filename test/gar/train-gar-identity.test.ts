import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { flatCrops } from '../helpers/flat-crops.ts';
import { createFaceEmbedder, type FaceEmbedder } from '../../src/detect/face-embedding.ts';
import { loadFaceEmbeddingModelFile } from '../../src/io/node/face-embedding-model.ts';
import { encodePng } from '../../src/io/node/encode-image.ts';
import { GAR_PRESETS, GarTrainer, GeometrySampler, validateTrainGarConfig, type TrainGarConfig } from '../../src/gar/index.ts';
import type { SampledGeometry } from '../../src/gar/geometry-sampler.ts';
import { createIdentityConsistencyLoss, identityGroups } from '../../src/gar/identity-consistency.ts';
import { runCli, hasStackTrace } from '../helpers/cli.ts';
import { sharedModel } from '../helpers/model.ts';

let sampler: GeometrySampler;
let embedder: FaceEmbedder;
before(async () => {
  await initBackend({ backend: 'wasm' });
  sampler = new GeometrySampler(await sharedModel(), { resolution: 32 });
  embedder = await createFaceEmbedder(await loadFaceEmbeddingModelFile());
});
after(() => embedder?.dispose());

/** Flat two-tone crops (as written by the trainer tests before the identity loss existed). */

const base: Partial<TrainGarConfig> = { batchSize: 2, r1Interval: 2, pathLengthInterval: 2, seed: 5 };
const parameters = (trainer: GarTrainer) =>
  [...trainer.generator.namedParameters(), ...trainer.discriminator.namedParameters()].map(([, v]) => Array.from(v.dataSync()));

/** Record the gradients G's optimiser is given (copied out as arrays, by variable path), step by step. */
function recordGeneratorGradients(trainer: GarTrainer): Map<string, Float32Array>[] {
  const steps: Map<string, Float32Array>[] = [];
  const names = trainer.generator
    .namedParameters()
    .filter(([, v]) => v.trainable)
    .map(([path]) => path);
  const apply = trainer.optimizerG.apply.bind(trainer.optimizerG);
  trainer.optimizerG.apply = (grads, learningRateScale) => {
    steps.push(new Map(grads.map((g, i) => [names[i], (g?.dataSync().slice() ?? new Float32Array(0)) as Float32Array])));
    return apply(grads, learningRateScale);
  };
  return steps;
}

describe('GAR training with the identity contrastive loss (tiny)', () => {
  test('identity steps train G on pairs: logged, lazy, gradient reaches mapping and synthesis, no leak', () => {
    const reals = flatCrops(4, 1);
    const train = { ...base, batchSize: 4, pathLengthWeight: 0, identityWeight: 1, identityInterval: 2 };
    const loss = createIdentityConsistencyLoss(embedder);
    const calls: { groups: number[]; geometries: SampledGeometry[] }[] = [];
    // Same run twice; in the second the identity loss is multiplied by 0, so the difference of
    // G's gradients is the identity loss's own gradient.
    const withLoss = new GarTrainer({ network: GAR_PRESETS.tiny, sampler, realImages: reals, train });
    const zeroed = new GarTrainer({ network: GAR_PRESETS.tiny, sampler, realImages: reals, train });
    withLoss.consistency = {
      identity: (images, ws, geometries) => {
        calls.push({ groups: identityGroups(ws, geometries), geometries });
        return loss(images, ws, geometries);
      },
    };
    zeroed.consistency = { identity: (images, ws, geometries) => tf.mul(loss(images, ws, geometries), 0) as tf.Scalar };
    const gradients = recordGeneratorGradients(withLoss),
      zeroedGradients = recordGeneratorGradients(zeroed);
    try {
      const first = withLoss.trainStep();
      assert.equal(first.identity, undefined, 'lazy: not on step 1 of interval 2');
      assert.equal(calls.length, 0);
      zeroed.trainStep();
      const tensors = tf.memory().numTensors;
      const second = withLoss.trainStep();
      assert.ok(second.identity !== undefined && Number.isFinite(second.identity) && second.identity >= 0, JSON.stringify(second));
      assert.ok(Number.isFinite(second.lossG) && Number.isFinite(second.lossD));
      zeroed.trainStep();
      // The batch the hook saw: two pairs with exactly equal ws and identity, other pose and expression.
      assert.equal(calls.length, 1);
      const [{ groups, geometries }] = calls;
      assert.deepEqual(groups, [0, 0, 1, 1]);
      assert.deepEqual(geometries[1].identity, geometries[0].identity);
      assert.notDeepEqual(geometries[1].eulerRad, geometries[0].eulerRad);
      assert.notDeepEqual(geometries[2].identity, geometries[0].identity);
      // Identity-loss gradient = difference of the two runs' G gradients on step 2 (step 1 had none).
      for (const [name, g] of gradients[0]) assert.deepEqual(g, zeroedGradients[0].get(name), `step 1 identical: ${name}`);
      for (const part of ['mapping', 'synthesis']) {
        const moved = [...gradients[1]].filter(([name, g]) => name.startsWith(part) && g.some((x, i) => x !== zeroedGradients[1].get(name)![i]));
        assert.ok(moved.length > 0, `the identity loss's gradient reaches the ${part} network`);
      }
      assert.ok([...gradients[1].values()].every((g) => g.every(Number.isFinite)));
      withLoss.trainStep();
      const fourth = withLoss.trainStep();
      assert.ok(fourth.identity !== undefined && calls.length === 2);
      assert.equal(tf.memory().numTensors, tensors, 'tensors leaked per step');
    } finally {
      withLoss.dispose();
      zeroed.dispose();
    }
  });

  test('identityWeight 0 leaves the run as it was before pairing, and off-interval steps are untouched', () => {
    const reals = flatCrops(4, 1);
    const off = new GarTrainer({ network: GAR_PRESETS.tiny, sampler, realImages: reals, train: { ...base, identityInterval: 1 } });
    const notDue = new GarTrainer({ network: GAR_PRESETS.tiny, sampler, realImages: reals, train: { ...base, identityWeight: 0.5, identityInterval: 1000 } });
    notDue.consistency = {
      identity: () => {
        throw new Error('identity loss called off its interval');
      },
    };
    try {
      const states: number[] = [];
      const losses = [1, 2].map(() => {
        const l = off.trainStep();
        states.push(off.random.state);
        return l;
      });
      // The random stream of this run as the trainer drew it before pairing existed (commit a816954):
      // a change here means runs without the identity loss no longer resume on their old stream.
      assert.deepEqual(states, [474360159, 4017772370]);
      assert.deepEqual([notDue.trainStep(), notDue.trainStep()], losses);
      assert.equal(notDue.random.state, off.random.state);
      assert.deepEqual(parameters(notDue), parameters(off));
    } finally {
      off.dispose();
      notDue.dispose();
    }
    assert.throws(() => validateTrainGarConfig({ batchSize: 3, identityWeight: 1 }), /batchSize/);
    assert.throws(() => validateTrainGarConfig({ identityInterval: 0 }), /identityInterval/);
    assert.equal(validateTrainGarConfig({ batchSize: 3 }).identityInterval, 4);
  });

  test('facegar train-gar --identity-weight: logged, remembered on resume, bad --embedding refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'facegar-gar-identity-'));
    try {
      const data = join(dir, 'ds');
      await mkdir(join(data, '32'), { recursive: true });
      const images = flatCrops(4, 9).map((image, i) => ({ id: `f${i}`, files: { 32: `32/f${i}.png` }, image }));
      for (const { files, image } of images) await writeFile(join(data, files[32]), await encodePng(image));
      await writeFile(
        join(data, 'dataset.json'),
        JSON.stringify({ format: 1, sizes: [32], images: images.map(({ id, files }) => ({ id, files })), skipped: [] }),
      );
      const run = join(dir, 'run');
      const common = ['train-gar', '--data', data, '--out', run, '--batch', '2', '--checkpoint-every', '2', '--no-path-length'];
      const bad = await runCli([...common, '--steps', '2', '--identity-weight', '1', '--embedding', 'arcface']);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /--embedding.*arcface/);
      assert.ok(!hasStackTrace(bad.stderr));
      const trained = await runCli([...common, '--steps', '2', '--identity-weight', '0.5', '--identity-interval', '2', '--embedding', 'faceres']);
      assert.equal(trained.code, 0, trained.stderr);
      assert.match(trained.stderr, / I \d+\.\d{3} /, 'progress shows the identity loss');
      const manifest = JSON.parse(await readFile(join(run, 'checkpoint.json'), 'utf8'));
      assert.equal(manifest.config.train.identityWeight, 0.5);
      assert.equal(manifest.config.train.identityInterval, 2);
      assert.equal(manifest.notes.identityEmbedding, 'faceres');
      const resumed = await runCli([...common, '--steps', '4', '--resume']);
      assert.equal(resumed.code, 0, resumed.stderr);
      const lines = (await readFile(join(run, 'losses.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        lines.map((l) => l.step),
        [1, 2, 3, 4],
      );
      assert.deepEqual(
        lines.map((l) => typeof l.identity),
        ['undefined', 'number', 'undefined', 'number'],
        'identity every 2nd step, also after resume',
      );
      assert.equal(JSON.parse(await readFile(join(run, 'checkpoint.json'), 'utf8')).notes.identityEmbedding, 'faceres');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
