import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { loadGraphModelFromBytes } from '../../src/detect/graph-model.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { GAR_PRESETS, Generator, GeometrySampler, SeededRandom } from '../../src/gar/index.ts';
import {
  FaceMeshLandmarks,
  interOcularDistancePx,
  landmarkConsistencyLoss,
  landmarkTargets,
  normalConsistencyLoss,
} from '../../src/gar/geometry-consistency.ts';
import { NormalEstimator } from '../../src/gar/normal-estimator.ts';
import { renderNormalSample, stackNormalSamples, type NormalSample } from '../../src/gar/normal-training-data.ts';
import { sharedModel } from '../helpers/model.ts';

let landmarks: FaceMeshLandmarks;
let studio: NormalSample[];
before(async () => {
  await initBackend({ backend: 'wasm' });
  const files = await loadDetectorModelFiles();
  landmarks = new FaceMeshLandmarks(await loadGraphModelFromBytes(files.facemesh, 'facemesh'));
  const model = await sharedModel();
  studio = [0, 1, 2, 3].map((i) => renderNormalSample(model, 'heldout', 0, i, 64));
});

describe('geometry-consistency losses', () => {
  test('landmark loss: low on studio crops against their own truth, grows for another face or shifted targets; gradients reach the image', () => {
    const { images } = stackNormalSamples(studio, 64);
    const own = landmarkTargets(studio);
    const other = landmarkTargets([...studio.slice(1), studio[0]]);
    const shifted = { ...own, points: tf.add(own.points, tf.mul(tf.expandDims(tf.expandDims(own.interOcularPx, 1), 2), 0.3)) as tf.Tensor3D };
    try {
      const loss = (t: { points: tf.Tensor3D; interOcularPx: tf.Tensor1D }) =>
        tf.tidy(() => landmarkConsistencyLoss(landmarks, images, t.points, t.interOcularPx).dataSync()[0]);
      const tensors = tf.memory().numTensors;
      const match = loss(own),
        mismatch = loss(other),
        moved = loss(shifted);
      assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
      // Measured: ~0.14 (FaceMesh on 64² crops upsampled to 192²), ~0.28 for another face.
      assert.ok(match < 0.25, `matching loss ${match}`);
      assert.ok(mismatch > 1.4 * match, `another face ${mismatch} vs ${match}`);
      assert.ok(moved > match + 0.2, `shifted targets ${moved} vs ${match}`);
      const gradient = tf.grad((x: tf.Tensor) => landmarkConsistencyLoss(landmarks, x as tf.Tensor4D, own.points, own.interOcularPx))(images);
      const size = tf.tidy(() => tf.sum(tf.abs(gradient)).dataSync()[0]);
      assert.ok(Number.isFinite(size) && size > 0, `gradient size ${size}`);
      gradient.dispose();
      assert.ok(Math.abs(interOcularDistancePx(studio[0].landmarks2d) - 0.26 * 64) < 4, 'aligned eyes ~0.26 of the crop apart');
    } finally {
      tf.dispose([images, own.points, own.interOcularPx, other.points, other.interOcularPx, shifted.points]);
    }
  });

  test('normal consistency: gradients reach the generator variables, not the frozen estimator; resolution checked', async () => {
    const sampler = new GeometrySampler(await sharedModel(), { resolution: 32 });
    const generator = new Generator(GAR_PRESETS.tiny, 1);
    const estimator = new NormalEstimator({ resolution: 32, channels: [8, 8], seed: 2 });
    const { normals } = sampler.sampleNormalMaps(new SeededRandom(4), 2);
    const z = tf.randomNormal([2, GAR_PRESETS.tiny.zDim], 0, 1, 'float32', 5) as tf.Tensor2D;
    const estimatorBefore = estimator.namedParameters().map(([, v]) => Array.from(v.dataSync()));
    try {
      const tensors = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(
        () => normalConsistencyLoss(estimator, generator.generate(normals, z), normals),
        generator.trainableVariables(),
      );
      const loss = value.dataSync()[0];
      assert.ok(loss > 0 && loss < 2, `loss ${loss}`);
      const reached = generator
        .namedParameters()
        .filter(([, v]) => v.trainable && grads[v.name] && tf.tidy(() => tf.max(tf.abs(grads[v.name])).dataSync()[0]) > 0);
      assert.ok(
        reached.some(([name]) => name.startsWith('synthesis')) && reached.some(([name]) => name.startsWith('mapping')),
        'gradients reach synthesis and mapping',
      );
      tf.dispose([value, ...Object.values(grads)]);
      assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
      estimator.namedParameters().forEach(([name, v], i) => assert.deepEqual(Array.from(v.dataSync()), estimatorBefore[i], name));
      const big = new NormalEstimator({ resolution: 64, channels: [4, 4] });
      assert.throws(() => normalConsistencyLoss(big, tf.zeros([1, 32, 32, 3]) as tf.Tensor4D, normals), /normalEstimator/);
      big.dispose();
    } finally {
      tf.dispose([normals, z]);
      generator.dispose();
      estimator.dispose();
    }
  });
});
