import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { createRgbaImage, type RgbaImage } from '../../src/common/image.ts';
import {
  GAR_PRESETS,
  GarTrainer,
  GeometrySampler,
  SeededRandom,
  decodeGarGenerator,
  decodeGarTrainer,
  encodeGarCheckpoint,
  garTrainerFrom,
  renderSampleGrid,
} from '../../src/gar/index.ts';
import { readGarCheckpoint, saveGarCheckpoint } from '../../src/io/node/checkpoint-files.ts';
import { sharedModel } from '../helpers/model.ts';

let sampler: GeometrySampler;
before(async () => {
  await initBackend({ backend: 'wasm' });
  sampler = new GeometrySampler(await sharedModel(), { resolution: 32 });
});

/** Smooth random colour blobs standing in for face crops. */
function fakeCrops(count: number, size: number, seed: number): RgbaImage[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: count }, () => {
    const image = createRgbaImage(size, size);
    const [r, g, b, cx, cy] = [random.next(), random.next(), random.next(), random.next() * size, random.next() * size];
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const fall = Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / ((size * size) / 8));
        const i = (y * size + x) * 4;
        image.data[i] = 255 * r * fall;
        image.data[i + 1] = 255 * g * fall;
        image.data[i + 2] = 255 * b;
        image.data[i + 3] = 255;
      }
    return image;
  });
}

const train = { batchSize: 2, r1Interval: 2, pathLengthInterval: 2, seed: 11 };
const weightsOf = (trainer: GarTrainer) => trainer.generator.namedParameters().map(([, v]) => Array.from(v.dataSync()));

describe('GAR training (tiny)', () => {
  test('steps run with R1 and path length, leak no tensors, checkpoint and resume to the same weights', async () => {
    const reals = fakeCrops(6, 32, 1);
    const dir = await mkdtemp(join(tmpdir(), 'facegar-gar-'));
    const trainer = new GarTrainer({ network: GAR_PRESETS.tiny, train, sampler, realImages: reals });
    try {
      const first = trainer.trainStep();
      assert.ok(Number.isFinite(first.lossG) && Number.isFinite(first.lossD), JSON.stringify(first));
      const second = trainer.trainStep();
      assert.ok(second.r1 !== undefined && second.r1 >= 0, 'R1 ran on step 2');
      assert.ok(second.pathLength !== undefined && Number.isFinite(second.pathLength), 'path length ran on step 2');
      await saveGarCheckpoint(dir, trainer, { command: 'test' });
      const tensorsBefore = tf.memory().numTensors;
      trainer.trainStep();
      trainer.trainStep();
      assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked per training step');
      const uninterrupted = weightsOf(trainer);

      const saved = await readGarCheckpoint(dir);
      assert.ok(saved);
      assert.equal(saved.manifest.step, 2);
      assert.equal(saved.manifest.format, 1);
      const resumed = decodeGarTrainer(saved.manifest, saved.weights, sampler, reals);
      try {
        assert.equal(resumed.step, 2);
        resumed.trainStep();
        resumed.trainStep();
        assert.deepEqual(weightsOf(resumed), uninterrupted, 'resumed run ends at the uninterrupted weights');
      } finally {
        resumed.dispose();
      }
      // A second save replaces the weights file; one checkpoint stays.
      await saveGarCheckpoint(dir, trainer);
      assert.deepEqual((await readdir(dir)).sort(), ['checkpoint-00000004.safetensors', 'checkpoint.json']);
      const latest = (await readGarCheckpoint(dir))!;
      const generator = decodeGarGenerator(latest.manifest, latest.weights);
      const ema = trainer.generatorEma.namedParameters();
      generator.namedParameters().forEach(([name, v], i) => assert.deepEqual(Array.from(v.dataSync()), Array.from(ema[i][1].dataSync()), name));
      const normals = sampler.renderNormalMaps([sampler.sample(new SeededRandom(1)), sampler.sample(new SeededRandom(2))]);
      const grid = renderSampleGrid(generator, normals, { latentsPerRow: 3 });
      assert.equal(grid.width, 4 * 32);
      assert.equal(grid.height, 2 * 32);
      normals.dispose();
      generator.dispose();
    } finally {
      trainer.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a new run started from a trained GAR: its EMA generator in G and G_ema, a fresh discriminator, step 0, the new settings, G held while frozen', () => {
    const reals = fakeCrops(4, 32, 3);
    const source = new GarTrainer({ network: GAR_PRESETS.tiny, train, sampler, realImages: reals });
    try {
      source.trainStep();
      source.trainStep();
      const { manifest, weights } = encodeGarCheckpoint(source, 'weights.safetensors');
      const emaWeights = source.generatorEma.namedParameters().map(([, v]) => Array.from(v.dataSync()));
      const fresh = new GarTrainer({ network: GAR_PRESETS.tiny, train: { ...train, seed: 5 }, sampler, realImages: reals });
      const tuned = garTrainerFrom(manifest, weights, sampler, reals, {
        ...train,
        seed: 5,
        learningRate: 0.001,
        generatorFrozenSteps: 1,
        emaKimg: 0.004,
        emaRampup: 0,
      });
      try {
        assert.deepEqual(weightsOf(tuned), emaWeights, 'G starts at the source EMA weights');
        assert.deepEqual(
          tuned.generatorEma.namedParameters().map(([, v]) => Array.from(v.dataSync())),
          emaWeights,
        );
        assert.notDeepEqual(weightsOf(tuned), weightsOf(source), "not the source's raw G (it moved past its EMA)");
        const discriminatorOf = (t: GarTrainer) => t.discriminator.namedParameters().map(([, v]) => Array.from(v.dataSync()));
        assert.deepEqual(discriminatorOf(tuned), discriminatorOf(fresh), 'the discriminator starts as a new run with that seed does');
        assert.equal(tuned.step, 0);
        assert.equal(tuned.optimizerG.step, 0);
        assert.equal(tuned.config.learningRate, 0.001);
        // Step 1 trains D alone: G and its EMA stay at the source's weights.
        const frozen = tuned.trainStep();
        assert.equal(frozen.lossG, undefined);
        assert.ok(Number.isFinite(frozen.lossD));
        assert.deepEqual(weightsOf(tuned), emaWeights, 'G held while frozen');
        assert.notDeepEqual(discriminatorOf(tuned), discriminatorOf(fresh), 'D trained while G was frozen');
        const losses = tuned.trainStep();
        assert.ok(Number.isFinite(losses.lossG) && Number.isFinite(losses.lossD));
        assert.notDeepEqual(weightsOf(tuned), emaWeights, 'G trains after the frozen steps');
        // No ramp-up: the EMA's half-life is 4 images from the first step (β = 0.5^(2/4) at batch 2), not ~0.
        const beta = 0.5 ** (2 / 4);
        const trained = weightsOf(tuned);
        const trainable = tuned.generator.namedParameters().map(([, v]) => v.trainable);
        tuned.generatorEma.namedParameters().forEach(([name, v], i) => {
          if (!trainable[i]) return; // w̄ is copied, not averaged
          const ema = v.dataSync();
          for (let k = 0; k < ema.length; k++) {
            const expected = beta * emaWeights[i][k] + (1 - beta) * trained[i][k];
            assert.ok(Math.abs(ema[k] - expected) <= 1e-6 * (1 + Math.abs(expected)), `${name}[${k}]: ${ema[k]} against ${expected}`);
          }
        });
      } finally {
        tuned.dispose();
        fresh.dispose();
      }
      const other = new GeometrySampler(sampler.model, { resolution: 64 });
      assert.throws(() => garTrainerFrom(manifest, weights, other, fakeCrops(2, 64, 1), train), /64/);
    } finally {
      source.dispose();
    }
  });

  test('geometry sampler frames faces on the aligned-crop template', () => {
    const geometry = sampler.sample(new SeededRandom(3));
    const eye = (indices: number[]) => indices.reduce((s, i) => s + geometry.landmarks2d[2 * i + 1], 0) / indices.length / 32;
    assert.ok(Math.abs(eye([36, 37, 38, 39, 40, 41]) - 0.39) < 0.05, `left eye y ${eye([36, 37, 38, 39, 40, 41])}`);
    const normals = sampler.renderNormalMaps([geometry]);
    const coverage = tf.tidy(() => tf.mean(tf.cast(tf.greater(tf.sum(normals, 3), 0), 'float32')).dataSync()[0]);
    normals.dispose();
    assert.ok(coverage > 0.2 && coverage < 0.95, `face covers ${coverage} of the crop`);
  });
});
