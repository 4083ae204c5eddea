import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { GeometrySampler, SeededRandom } from '../../src/gar/index.ts';
import { NormalEstimator, decodeNormalMap, meanNormalAngleDeg, normalCosineLoss } from '../../src/gar/normal-estimator.ts';
import {
  NormalEstimatorTrainer,
  decodeNormalEstimator,
  decodeNormalEstimatorTrainer,
  encodeNormalEstimatorCheckpoint,
  evaluateNormalEstimator,
} from '../../src/gar/normal-estimator-training.ts';
import { cropCamera, renderNormalSample, stackNormalSamples, type NormalSample } from '../../src/gar/normal-training-data.ts';
import { parameterCount } from '../../src/gar/parameters.ts';
import { projectPointsArray } from '../../src/geometry/camera.ts';
import { sharedModel } from '../helpers/model.ts';

let sampler: GeometrySampler;
before(async () => {
  await initBackend({ backend: 'wasm' });
  sampler = new GeometrySampler(await sharedModel(), { resolution: 16 });
});

/** Samples whose "image" is the normal map itself, shaded: a task a few steps can start to learn. */
function easySamples(count: number, seed: number): NormalSample[] {
  const random = new SeededRandom(seed);
  const geometries = Array.from({ length: count }, () => sampler.sample(random));
  const maps = sampler.renderNormalMaps(geometries);
  const values = maps.dataSync() as Float32Array;
  maps.dispose();
  const plane = 16 * 16 * 3;
  return geometries.map((g, i) => {
    const normalMap = values.slice(i * plane, (i + 1) * plane);
    return { normalMap, image: normalMap.map((v) => v * 2 - 1), landmarks2d: g.landmarks2d };
  });
}

const small = { resolution: 16, channels: [8, 8, 8], seed: 3 };

describe('normal estimator', () => {
  test('default network: a few hundred k parameters, unit normals of the input size', () => {
    const estimator = new NormalEstimator();
    try {
      const count = parameterCount(estimator);
      assert.ok(count > 100_000 && count < 400_000, `${count} parameters`);
      const out = tf.tidy(() => estimator.predict(tf.randomNormal([1, 64, 64, 3], 0, 0.5, 'float32', 1)));
      assert.deepEqual(out.shape, [1, 64, 64, 3]);
      const lengths = tf.tidy(() => tf.sqrt(tf.sum(tf.square(out), 3)).dataSync());
      assert.ok(lengths.every((l) => Math.abs(l - 1) < 1e-3));
      out.dispose();
      assert.throws(() => estimator.predict(tf.zeros([1, 32, 32, 3]) as tf.Tensor4D), /images/);
    } finally {
      estimator.dispose();
    }
  });

  test('cosine loss and angle: 0 for the true normals, larger for another face, background ignored', () => {
    const [a, b] = easySamples(2, 5);
    const { normalMaps } = stackNormalSamples([a, b], 16);
    const truth = decodeNormalMap(normalMaps);
    const swapped = tf.reverse(truth, 0) as tf.Tensor4D;
    const same = tf.tidy(() => normalCosineLoss(truth, normalMaps).dataSync()[0]);
    const other = tf.tidy(() => normalCosineLoss(swapped, normalMaps).dataSync()[0]);
    assert.ok(same < 1e-5, `matching loss ${same}`);
    assert.ok(other > 0.02, `mismatched loss ${other}`);
    assert.ok(meanNormalAngleDeg(truth, normalMaps) < 0.1);
    assert.ok(meanNormalAngleDeg(swapped, normalMaps) > 5);
    tf.dispose([normalMaps, truth, swapped]);
  });

  test('mirroring flips the image and negates the normal x', () => {
    const [sample] = easySamples(1, 6);
    let mirrored;
    for (let seed = 0; ; seed++) {
      // find a seed whose first draw mirrors
      if (new SeededRandom(seed).next() < 0.5) {
        mirrored = stackNormalSamples([sample], 16, new SeededRandom(seed));
        break;
      }
    }
    const n = mirrored.normalMaps.dataSync(),
      im = mirrored.images.dataSync();
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 16; x++) {
        const s = (y * 16 + 15 - x) * 3,
          t = (y * 16 + x) * 3;
        assert.equal(im[t], sample.image[s]);
        const face = sample.normalMap[s] + sample.normalMap[s + 1] + sample.normalMap[s + 2] > 0;
        assert.ok(Math.abs(n[t] - (face ? 1 - sample.normalMap[s] : 0)) < 1e-6);
        assert.equal(n[t + 1], sample.normalMap[s + 1]);
      }
    tf.dispose([mirrored.images, mirrored.normalMaps]);
  });

  test('training steps lower the loss on a fixed batch, leak no tensors; checkpoint round trip', () => {
    const samples = easySamples(4, 7);
    const trainer = new NormalEstimatorTrainer(small, { batchSize: 4, learningRate: 0.01, seed: 1 });
    const { images, normalMaps } = stackNormalSamples(samples, 16);
    try {
      const first = trainer.fitBatch(images, normalMaps);
      const tensors = tf.memory().numTensors;
      let last = first;
      for (let i = 0; i < 25; i++) last = trainer.fitBatch(images, normalMaps);
      assert.equal(tf.memory().numTensors, tensors, 'tensors leaked per step');
      assert.ok(last < 0.7 * first, `loss ${first} → ${last}`);
      trainer.trainStep(samples);

      const { manifest, weights } = encodeNormalEstimatorCheckpoint(trainer, 'checkpoint-00000001.safetensors', { notes: { command: 'test' } });
      const json = JSON.parse(JSON.stringify(manifest));
      const resumed = decodeNormalEstimatorTrainer(json, weights);
      const estimator = decodeNormalEstimator(json, weights);
      try {
        assert.equal(resumed.step, 1); // fitBatch steps Adam only; trainStep counts steps
        assert.equal(resumed.optimizer.step, 27);
        assert.equal(resumed.random.state, trainer.random.state);
        resumed.estimator
          .namedParameters()
          .forEach(([name, v], i) => assert.deepEqual(v.dataSync(), trainer.estimator.namedParameters()[i][1].dataSync(), name));
        // Resumed and original continue identically.
        assert.equal(resumed.trainStep(samples), trainer.trainStep(samples));
        const before = evaluateNormalEstimator(estimator, samples, 3);
        assert.ok(before.meanAngleDeg > 0 && before.meanAngleDeg < 180 && before.samples === 4);
        assert.throws(() => decodeNormalEstimator({ ...json, className: 'GarTrainer' }, weights), /not NormalEstimator/);
      } finally {
        resumed.dispose();
        estimator.dispose();
      }
    } finally {
      tf.dispose([images, normalMaps]);
      trainer.dispose();
    }
  });

  test('crop camera: projecting the turned points equals the similarity applied to the projection', () => {
    const random = new SeededRandom(9);
    const points = Float32Array.from({ length: 30 }, (_, i) => (i % 3 === 2 ? -500 - 50 * random.next() : 80 * (random.next() - 0.5)));
    const camera = { focalPx: 700, principalPointPx: [130, 120] as [number, number], width: 256, height: 256 };
    const angle = 0.3,
      scale = 0.4;
    const affine = { a: scale * Math.cos(angle), b: -scale * Math.sin(angle), c: scale * Math.sin(angle), d: scale * Math.cos(angle), tx: -12, ty: 7 };
    const framed = cropCamera(points, camera, affine, 64);
    const before = projectPointsArray(points, camera),
      after = projectPointsArray(framed.verticesCamera, framed.camera);
    for (let i = 0; i < 10; i++) {
      const x = before[2 * i],
        y = before[2 * i + 1];
      assert.ok(Math.abs(after[2 * i] - (affine.a * x + affine.b * y + affine.tx)) < 1e-3);
      assert.ok(Math.abs(after[2 * i + 1] - (affine.c * x + affine.d * y + affine.ty)) < 1e-3);
    }
  });

  test('a studio sample: crop in −1…1, normal map covers the face under the truth landmarks', async () => {
    const sample = renderNormalSample(await sharedModel(), 'heldout', 0, 0, 32);
    assert.equal(sample.image.length, 32 * 32 * 3);
    assert.ok(sample.image.every((v) => v >= -1 && v <= 1));
    const covered = (x: number, y: number) => {
      const i = (Math.floor(y) * 32 + Math.floor(x)) * 3;
      return sample.normalMap[i] + sample.normalMap[i + 1] + sample.normalMap[i + 2] > 0;
    };
    // Nose bridge, tip and base lie on the rasterised face; crop corners do not.
    for (const k of [27, 30, 33]) assert.ok(covered(sample.landmarks2d[2 * k], sample.landmarks2d[2 * k + 1]), `landmark ${k}`);
    assert.ok(!covered(0, 0) && !covered(31, 0));
  });
});
