import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { createRgbaImage } from '../../src/common/image.ts';
import { GAR_PRESETS, GarTrainer, Generator, GeometrySampler, SeededRandom } from '../../src/gar/index.ts';
import { transformPointsArray } from '../../src/geometry/camera.ts';
import { evaluateMorphableModel, type MorphableModel } from '../../src/morphable/morphable-model.ts';
import { saveGarCheckpoint } from '../../src/io/node/checkpoint-files.ts';
import {
  EncoderTrainer,
  FaceEncoder,
  createCropFrame,
  cropPoseOfSample,
  cropPoseToCamera,
  decodeEncoderTrainer,
  decodeFaceEncoder,
  encodeEncoderCheckpoint,
  encoderNetworkConfig,
  encoderTrainerFrom,
} from '../../src/invert/index.ts';
import { run as trainEncoder } from '../../src/cli/train-encoder-command.ts';
import { sharedModel } from '../helpers/model.ts';
import { modelDir, testCacheDir } from '../helpers/shared-data.ts';

let model: MorphableModel;
let sampler: GeometrySampler;
before(async () => {
  await initBackend({ backend: 'wasm' });
  model = await sharedModel();
  sampler = new GeometrySampler(model, { resolution: 32 });
});

const outputs = () => ({ identityCount: model.identityCount, expressionCount: model.expressionNames.length, wDim: GAR_PRESETS.tiny.wDim });

describe('crop frame', () => {
  test('the crop pose of a sampled geometry reproduces its camera-space vertices and focal length', () => {
    const random = new SeededRandom(5);
    for (let i = 0; i < 5; i++) {
      const g = sampler.sample(random);
      const vertices = evaluateMorphableModel(model, g.identity, g.expression);
      const frame = createCropFrame(model, 32, g.camera.principalPointPx);
      const camera = cropPoseToCamera(cropPoseOfSample(model, g, vertices, frame), frame);
      const points = transformPointsArray(vertices, camera.rotation, camera.translationMm);
      let worst = 0;
      for (let k = 0; k < points.length; k++) worst = Math.max(worst, Math.abs(points[k] - g.verticesCamera[k]));
      assert.ok(worst < 0.01, `vertices off by ${worst} mm`);
      assert.ok(Math.abs(camera.focalPx - g.camera.focalPx) < 1e-3);
    }
  });
});

describe('face encoder', () => {
  test('outputs have the documented shapes and ranges; no tensors leak', () => {
    const encoder = new FaceEncoder(encoderNetworkConfig('tiny', outputs()), 3);
    try {
      const before = tf.memory().numTensors;
      const crops = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
      const raw = encoder.applyRaw(crops);
      assert.deepEqual(raw.shape, [2, encoder.layout.size]);
      assert.equal(encoder.layout.size, model.identityCount + model.expressionNames.length + 7 + GAR_PRESETS.tiny.wDim);
      const estimates = encoder.estimate(crops);
      tf.dispose([crops, raw]);
      assert.equal(tf.memory().numTensors, before);
      assert.equal(estimates.length, 2);
      assert.equal(estimates[0].identity.length, model.identityCount);
      assert.equal(estimates[0].expression.length, model.expressionNames.length);
      assert.equal(estimates[0].w.length, GAR_PRESETS.tiny.wDim);
      assert.ok(estimates[0].expression.every((e) => e > 0 && e < 1));
      assert.ok(
        estimates[0].expression.every((e) => e < 0.2),
        'expressions start near zero',
      );
      assert.notDeepEqual(estimates[0].identity, estimates[1].identity, 'different crops, different outputs');
      assert.throws(() => encoder.applyRaw(tf.zeros([1, 16, 16, 3])), /32, 32, 3/);
    } finally {
      encoder.dispose();
    }
  });

  test('training steps run without leaks; the checkpoint round trip is bit-exact and resumes the same stream', () => {
    const generator = new Generator(GAR_PRESETS.tiny, 9);
    const train = { batchSize: 2, seed: 4, statisticsSamples: 8, vertexSubsample: 64 };
    const trainer = new EncoderTrainer({ network: encoderNetworkConfig('tiny', outputs()), train, generator, sampler });
    try {
      trainer.initialiseOutputStatistics();
      const std = trainer.encoder.outputStd.dataSync();
      assert.ok(std[0] > 0.3 && std[0] < 3, `identity spread ${std[0]}`);
      const first = trainer.trainStep();
      assert.ok(Number.isFinite(first.total) && first.vertexMm > 0, JSON.stringify(first));
      const tensors = tf.memory().numTensors;
      trainer.trainStep();
      assert.equal(tf.memory().numTensors, tensors, 'tensors leaked per step');
      const { manifest, weights } = encodeEncoderCheckpoint(trainer, 'w.safetensors');
      const next = trainer.trainStep();
      const resumed = decodeEncoderTrainer(JSON.parse(JSON.stringify(manifest)), weights, generator, sampler);
      try {
        assert.equal(resumed.step, 2);
        const again = resumed.trainStep();
        assert.equal(again.total, next.total, 'resumed step gives the same loss');
        const a = trainer.encoder.namedParameters(),
          b = resumed.encoder.namedParameters();
        a.forEach(([name, v], i) => assert.deepEqual(b[i][1].dataSync(), v.dataSync(), name));
      } finally {
        resumed.dispose();
      }
      const encoder = decodeFaceEncoder(manifest, weights);
      try {
        const crops = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
        // The decoded encoder equals the trainer's at checkpoint time: compare with a fresh decode's trainer weights.
        const fromTrainer = decodeEncoderTrainer(manifest, weights, generator, sampler);
        const x = encoder.apply(crops),
          y = fromTrainer.encoder.apply(crops);
        assert.deepEqual(x.dataSync(), y.dataSync());
        tf.dispose([crops, x, y]);
        fromTrainer.dispose();
      } finally {
        encoder.dispose();
      }
    } finally {
      trainer.dispose();
      generator.dispose();
    }
  });

  test('the re-render loss runs and has gradients', () => {
    const generator = new Generator(GAR_PRESETS.tiny, 9);
    const trainer = new EncoderTrainer({
      network: encoderNetworkConfig('tiny', outputs()),
      train: { batchSize: 1, seed: 1, statisticsSamples: 4, vertexSubsample: 32, rerenderWeight: 1 },
      generator,
      sampler,
    });
    try {
      trainer.initialiseOutputStatistics();
      const head = trainer.encoder.head.weight.dataSync().slice();
      const losses = trainer.trainStep();
      assert.ok(losses.rerender !== undefined && losses.rerender > 0 && Number.isFinite(losses.rerender), JSON.stringify(losses));
      assert.notDeepEqual(trainer.encoder.head.weight.dataSync(), head);
    } finally {
      trainer.dispose();
      generator.dispose();
    }
  });
});

/** A freshly initialised tiny GAR's checkpoint in `dir` (what train-encoder reads). */
async function saveTinyGar(dir: string): Promise<void> {
  const reals = Array.from({ length: 4 }, () => createRgbaImage(32, 32));
  const gar = new GarTrainer({ network: GAR_PRESETS.tiny, train: { batchSize: 2, seed: 1 }, sampler, realImages: reals });
  try {
    await saveGarCheckpoint(dir, gar);
  } finally {
    gar.dispose();
  }
}

describe('facegar train-encoder', () => {
  test('trains 2 steps on a tiny GAR, writes a checkpoint, refuses to overwrite, resumes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'facegar-enc-'));
    await saveTinyGar(join(dir, 'gar'));
    const out = join(dir, 'enc');
    process.env.FACEGAR_CACHE_DIR ??= testCacheDir; // in-process CLI runs: the test model cache
    try {
      assert.equal(
        await trainEncoder(['--gar', join(dir, 'gar'), '--out', out, '--steps', '2', '--batch', '2', '--checkpoint-every', '2', '-q', '--model', modelDir]),
        0,
      );
      assert.deepEqual((await readdir(out)).sort(), ['checkpoint-00000002.safetensors', 'checkpoint.json', 'losses.jsonl']);
      const manifest = JSON.parse(await readFile(join(out, 'checkpoint.json'), 'utf8'));
      assert.equal(manifest.step, 2);
      assert.equal(manifest.gar.step, 0);
      assert.equal(manifest.config.network.resolution, 32);
      await assert.rejects(trainEncoder(['--gar', join(dir, 'gar'), '--out', out, '--steps', '3', '-q', '--model', modelDir]), /--resume/);
      assert.equal(await trainEncoder(['--gar', join(dir, 'gar'), '--out', out, '--steps', '3', '--resume', '-q', '--model', modelDir]), 0);
      assert.equal(JSON.parse(await readFile(join(out, 'checkpoint.json'), 'utf8')).step, 3);
      assert.deepEqual((await readdir(out)).sort(), ['checkpoint-00000003.safetensors', 'checkpoint.json', 'losses.jsonl']);
      assert.equal((await readFile(join(out, 'losses.jsonl'), 'utf8')).trim().split('\n').length, 3);
      await assert.rejects(trainEncoder(['--gar', join(dir, 'nothing'), '--out', join(dir, 'e2'), '-q']), /no GAR checkpoint/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('--init-from starts a new run from another encoder: its weights and standardisation, step 0, fresh optimiser', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'facegar-enc-init-'));
    await saveTinyGar(join(dir, 'gar'));
    process.env.FACEGAR_CACHE_DIR ??= testCacheDir;
    const common = ['--gar', join(dir, 'gar'), '--batch', '2', '-q', '--model', modelDir];
    const weightsOf = async (encoderDir: string) => {
      const manifest = JSON.parse(await readFile(join(encoderDir, 'checkpoint.json'), 'utf8'));
      const encoder = decodeFaceEncoder(manifest, new Uint8Array(await readFile(join(encoderDir, manifest.weightsPath))));
      try {
        return { manifest, mean: encoder.outputMean.dataSync().slice(), head: encoder.head.weight.dataSync().slice() };
      } finally {
        encoder.dispose();
      }
    };
    try {
      assert.equal(await trainEncoder([...common, '--out', join(dir, 'source'), '--steps', '3', '--seed', '4']), 0);
      assert.equal(await trainEncoder([...common, '--out', join(dir, 'tuned'), '--steps', '1', '--lr', '1e-6', '--init-from', join(dir, 'source')]), 0);
      const source = await weightsOf(join(dir, 'source'));
      const tuned = await weightsOf(join(dir, 'tuned'));
      assert.equal(tuned.manifest.step, 1);
      assert.equal(tuned.manifest.adamSteps, 1);
      assert.deepEqual(tuned.mean, source.mean, "the output standardisation is the source encoder's, not drawn again");
      // One step at lr 1e-6 moves each weight by about 1e-6: the start was the source's weights.
      let largest = 0;
      for (let i = 0; i < source.head.length; i++) largest = Math.max(largest, Math.abs(tuned.head[i] - source.head[i]));
      assert.ok(largest > 0 && largest < 1e-5, `largest head change ${largest}`);
      // A fresh run from the same seed starts elsewhere.
      assert.equal(await trainEncoder([...common, '--out', join(dir, 'fresh'), '--steps', '1', '--lr', '1e-6']), 0);
      const fresh = await weightsOf(join(dir, 'fresh'));
      assert.ok(fresh.head.some((v, i) => Math.abs(v - source.head[i]) > 1e-3));
      await assert.rejects(trainEncoder([...common, '--out', join(dir, 'e2'), '--init-from', join(dir, 'nothing')]), /nothing: no encoder checkpoint/);
      await assert.rejects(
        trainEncoder([...common, '--out', join(dir, 'e3'), '--init-from', join(dir, 'gar')]),
        /gar\/checkpoint.json: not a facegar encoder checkpoint/,
      );
      // An encoder for another resolution is refused before any weight is read.
      const larger = new Generator({ ...GAR_PRESETS.tiny, resolution: 64 }, 1);
      try {
        const weights = new Uint8Array(await readFile(join(dir, 'source', source.manifest.weightsPath)));
        assert.throws(() => encoderTrainerFrom(source.manifest, weights, larger, sampler, {}), /takes 32² crops and w of \d+, the GAR draws 64²/);
      } finally {
        larger.dispose();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
