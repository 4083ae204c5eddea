import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { flatCrops } from '../helpers/flat-crops.ts';
import { loadGraphModelFromBytes } from '../../src/detect/graph-model.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { GAR_PRESETS, GarTrainer, GeometrySampler, decodeGarTrainer, encodeGarCheckpoint } from '../../src/gar/index.ts';
import { FaceMeshLandmarks } from '../../src/gar/geometry-consistency.ts';
import { NormalEstimator } from '../../src/gar/normal-estimator.ts';
import { sharedModel } from '../helpers/model.ts';

let sampler: GeometrySampler;
let landmarks: FaceMeshLandmarks;
before(async () => {
  await initBackend({ backend: 'wasm' });
  sampler = new GeometrySampler(await sharedModel(), { resolution: 32 });
  landmarks = new FaceMeshLandmarks(await loadGraphModelFromBytes((await loadDetectorModelFiles()).facemesh, 'facemesh'));
});

const base = { batchSize: 2, r1Interval: 2, pathLengthInterval: 2, seed: 5 };
const weightsOf = (trainer: GarTrainer) => trainer.generator.namedParameters().map(([, v]) => Array.from(v.dataSync()));

describe('GAR training with geometry-consistency losses (tiny)', () => {
  test('normal, landmark (lazy) and identity-hook losses run, are logged, move G, leak nothing', () => {
    const reals = flatCrops(4, 1);
    const estimator = new NormalEstimator({ resolution: 32, channels: [8, 8], seed: 1 });
    const trainer = new GarTrainer({
      network: GAR_PRESETS.tiny,
      sampler,
      realImages: reals,
      train: { ...base, normalWeight: 1, landmarkWeight: 0.5, landmarkInterval: 2, identityWeight: 0.1, identityInterval: 1 },
    });
    let identityCalls = 0;
    trainer.consistency = {
      normalEstimator: estimator,
      landmarks,
      identity: (images, ws, geometries) => {
        identityCalls++;
        assert.equal(geometries.length, ws.shape[0]);
        assert.deepEqual(geometries[1].identity, geometries[0].identity, 'a batch of pairs');
        return tf.mean(tf.square(images)) as tf.Scalar;
      },
    };
    const estimatorBefore = estimator.namedParameters().map(([, v]) => Array.from(v.dataSync()));
    try {
      const weightsBefore = weightsOf(trainer);
      const first = trainer.trainStep();
      assert.ok(first.normal !== undefined && first.normal > 0 && first.normal < 2, JSON.stringify(first));
      assert.equal(first.landmark, undefined, 'landmark loss is lazy: not on step 1 of interval 2');
      assert.ok(first.identity !== undefined && Number.isFinite(first.lossG));
      const tensors = tf.memory().numTensors;
      const second = trainer.trainStep();
      assert.ok(second.landmark !== undefined && second.landmark > 0 && Number.isFinite(second.landmark), JSON.stringify(second));
      trainer.trainStep();
      assert.equal(tf.memory().numTensors, tensors, 'tensors leaked per step');
      assert.equal(identityCalls, 3);
      assert.notDeepEqual(weightsOf(trainer), weightsBefore);
      estimator.namedParameters().forEach(([name, v], i) => assert.deepEqual(Array.from(v.dataSync()), estimatorBefore[i], `estimator ${name} stays frozen`));
      const { manifest } = encodeGarCheckpoint(trainer, 'w.safetensors');
      assert.equal(manifest.config.train.normalWeight, 1);
      assert.equal(manifest.config.train.landmarkInterval, 2);
    } finally {
      trainer.dispose();
      estimator.dispose();
    }
  });

  test('a weight > 0 without its judge is a usage error before anything changes', () => {
    const trainer = new GarTrainer({ network: GAR_PRESETS.tiny, sampler, realImages: flatCrops(2, 2), train: { ...base, normalWeight: 1 } });
    try {
      const state = trainer.random.state;
      assert.throws(() => trainer.trainStep(), /normalEstimator/);
      assert.equal(trainer.step, 0);
      assert.equal(trainer.random.state, state);
    } finally {
      trainer.dispose();
    }
  });

  test('a checkpoint without the consistency fields (as written before them) resumes unchanged, and can resume with them on', () => {
    const reals = flatCrops(4, 3);
    const trainer = new GarTrainer({ network: GAR_PRESETS.tiny, sampler, realImages: reals, train: base });
    const estimator = new NormalEstimator({ resolution: 32, channels: [8, 8], seed: 1 });
    try {
      trainer.trainStep();
      const { manifest, weights } = encodeGarCheckpoint(trainer, 'checkpoint-00000001.safetensors');
      const old = JSON.parse(JSON.stringify(manifest));
      for (const key of ['normalWeight', 'landmarkWeight', 'landmarkInterval', 'identityWeight', 'identityInterval']) delete old.config.train[key];
      trainer.trainStep();
      trainer.trainStep();
      const uninterrupted = weightsOf(trainer);

      const resumed = decodeGarTrainer(old, weights, sampler, reals);
      try {
        assert.equal(resumed.config.normalWeight, 0);
        assert.equal(resumed.config.landmarkInterval, 4);
        assert.equal(resumed.config.identityWeight, 0);
        const losses = [resumed.trainStep(), resumed.trainStep()];
        assert.ok(losses.every((l) => l.normal === undefined && l.landmark === undefined));
        assert.deepEqual(weightsOf(resumed), uninterrupted, 'old run continues to the same weights');
      } finally {
        resumed.dispose();
      }
      // The lead's resume: the old checkpoint with the losses switched on.
      const withLosses = decodeGarTrainer(
        { ...old, config: { ...old.config, train: { ...old.config.train, normalWeight: 0.5, identityWeight: 0.2, identityInterval: 2 } } },
        weights,
        sampler,
        reals,
      );
      try {
        withLosses.consistency = { normalEstimator: estimator, identity: (images) => tf.mean(tf.square(images)) as tf.Scalar };
        const step = withLosses.trainStep();
        assert.equal(step.step, 2);
        assert.ok(step.normal !== undefined && step.normal > 0);
        assert.ok(step.identity !== undefined && step.identity > 0, 'identity loss on (step 2 of interval 2)');
      } finally {
        withLosses.dispose();
      }
    } finally {
      trainer.dispose();
      estimator.dispose();
    }
  });
});
