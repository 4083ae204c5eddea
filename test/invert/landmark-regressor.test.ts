import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { ModelUnavailableError } from '../../src/common/errors.ts';
import { FaceEncoder } from '../../src/invert/face-encoder.ts';
import { LandmarkRegressor, type LandmarkRegressorConfig } from '../../src/invert/landmark-regressor.ts';
import {
  decodeLandmarkRegressor,
  encodeLandmarkRegressorCheckpoint,
  validateLandmarkRegressorManifest,
} from '../../src/invert/landmark-regressor-checkpoint.ts';
import { chooseLandmarkRegressor, readLandmarkRegressorFiles } from '../../src/io/node/gar-models.ts';

const CONFIG: LandmarkRegressorConfig = { resolution: 16, channelBase: 128, channelMax: 16, hiddenFeatures: 16, landmarkCount: 68 };
const MODEL = { name: 'test model', vertexCount: 500 };
const VERTICES = Array.from({ length: 68 }, (_, k) => 7 * k);

before(async () => {
  await initBackend({ backend: 'wasm' });
});

const crops = (n: number) => tf.randomUniform([n, 16, 16, 3], -1, 1, 'float32', 4) as tf.Tensor4D;

describe('landmark regressor', () => {
  test("shares the face encoder's trunk: same parameter names and, from the same seed, the same initial weights", () => {
    const encoder = new FaceEncoder({ ...CONFIG, identityCount: 3, expressionCount: 2, wDim: 4 }, 9);
    const regressor = new LandmarkRegressor(CONFIG, 9);
    try {
      const trunk = encoder.trunk.namedParameters();
      assert.deepEqual(
        encoder.namedParameters().map(([n]) => n),
        [...trunk.map(([n]) => n), 'head.weight', 'head.bias', 'output_mean', 'output_std'],
      );
      assert.ok(trunk.some(([n]) => n === 'stem.weight') && trunk.some(([n]) => n === 'b16.conv0.weight') && trunk.some(([n]) => n === 'hidden.weight'));
      const regressorTrunk = new Map(regressor.trunk.namedParameters());
      for (const [name, v] of trunk) assert.deepEqual(regressorTrunk.get(name)!.dataSync(), v.dataSync(), name);
      assert.deepEqual(regressor.head.namedParameters()[0][1].shape, [CONFIG.hiddenFeatures, 136]);
    } finally {
      encoder.dispose();
      regressor.dispose();
    }
  });

  test('points in crop pixels are (mean + std · raw + ½) · S; no tensors leak', () => {
    const regressor = new LandmarkRegressor(CONFIG, 2);
    try {
      const mean = Float32Array.from({ length: 136 }, (_, i) => (i % 17) / 40 - 0.2);
      const std = Float32Array.from({ length: 136 }, (_, i) => 0.05 + (i % 5) / 50);
      regressor.outputMean.assign(tf.tensor1d(mean));
      regressor.outputStd.assign(tf.tensor1d(std));
      const input = crops(2);
      const before = tf.memory().numTensors;
      const raw = regressor.applyRaw(input);
      const rawValues = raw.dataSync();
      raw.dispose();
      const points = regressor.predictCropPx(input);
      assert.equal(tf.memory().numTensors, before);
      input.dispose();
      assert.equal(points.length, 2);
      for (let n = 0; n < 2; n++) {
        for (let i = 0; i < 136; i++) {
          const expected = (mean[i] + std[i] * rawValues[n * 136 + i] + 0.5) * CONFIG.resolution;
          assert.ok(Math.abs(points[n][i] - expected) < 1e-4, `crop ${n} value ${i}: ${points[n][i]} vs ${expected}`);
        }
      }
    } finally {
      regressor.dispose();
    }
  });

  test('checkpoint round trip: same outputs and landmark vertices; a manifest for another model or of another class is refused', () => {
    const regressor = new LandmarkRegressor(CONFIG, 5);
    const input = crops(1);
    try {
      const { manifest, weights } = encodeLandmarkRegressorCheckpoint(regressor, VERTICES, MODEL, 'w.safetensors', 12);
      const loaded = decodeLandmarkRegressor(JSON.parse(JSON.stringify(manifest)), weights, MODEL);
      const [a, b] = [regressor.predictCropPx(input)[0], loaded.regressor.predictCropPx(input)[0]];
      loaded.regressor.dispose();
      assert.deepEqual(b, a);
      assert.deepEqual(Array.from(loaded.landmarkVertices), VERTICES);
      assert.throws(
        () => decodeLandmarkRegressor(manifest, weights, { name: 'other', vertexCount: 300 }),
        /index test model \(500 vertices\), not other \(300\)/,
      );
      assert.throws(
        () => validateLandmarkRegressorManifest({ ...manifest, className: 'EncoderTrainer' }),
        /checkpoint class EncoderTrainer is not LandmarkRegressor/,
      );
      assert.throws(
        () => validateLandmarkRegressorManifest({ ...manifest, landmarkVertices: VERTICES.slice(1) }),
        /landmarkVertices must be 68 vertex indices/,
      );
      assert.throws(() => validateLandmarkRegressorManifest({ ...manifest, config: { network: { ...CONFIG, resolution: 24 } } }), /resolution/);
      assert.throws(() => validateLandmarkRegressorManifest({ ...manifest, weightsSha256: 'abc' }), /weightsSha256 must be 64 hex digits/);
    } finally {
      input.dispose();
      regressor.dispose();
    }
  });
});

describe('landmark regressor files', () => {
  test('the Node loader checks weightsSha256 (exit 6 on a damaged file); --landmark-regressor DIR | none | shipped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'facegar-landmarks-'));
    const regressor = new LandmarkRegressor(CONFIG, 1);
    try {
      const folder = join(dir, 'models', 'landmarks-test');
      await mkdir(folder, { recursive: true });
      const { manifest, weights } = encodeLandmarkRegressorCheckpoint(regressor, VERTICES, MODEL, 'landmarks.safetensors', 3);
      const sha = createHash('sha256').update(weights).digest('hex');
      await writeFile(join(folder, 'landmarks.safetensors'), weights);
      await writeFile(join(folder, 'checkpoint.json'), JSON.stringify({ ...manifest, weightsSha256: sha }));
      const files = await readLandmarkRegressorFiles(folder);
      assert.deepEqual(new Uint8Array(files.weights), weights);

      const damaged = await readFile(join(folder, 'landmarks.safetensors'));
      damaged[damaged.length - 1] ^= 1;
      await writeFile(join(folder, 'landmarks.safetensors'), damaged);
      await assert.rejects(
        readLandmarkRegressorFiles(folder),
        (error: unknown) => error instanceof ModelUnavailableError && error.exitCode === 6 && /do not match the SHA-256/.test(error.message),
      );
      await assert.rejects(readLandmarkRegressorFiles(join(dir, 'missing')), (error: unknown) => error instanceof ModelUnavailableError);

      assert.equal(await chooseLandmarkRegressor('none', join(dir, 'models')), undefined);
      assert.equal(await chooseLandmarkRegressor(join(dir, 'x'), join(dir, 'models')), join(dir, 'x'));
      assert.equal(await chooseLandmarkRegressor(undefined, join(dir, 'models')), folder);
      assert.equal(await chooseLandmarkRegressor(undefined, join(dir, 'nothing-here')), undefined);
    } finally {
      regressor.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
