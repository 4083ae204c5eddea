// The landmark regressor's torch port (scripts/gpu/face_encoder.py, landmark_training.py) against
// TF.js: the same outputs from the same seed, and a torch export that TF.js loads (SHA-256 checked)
// and runs as torch did; plus the trainer's re-cut, NME, framing and loss checks. Needs python3 with
// torch (Debian: apt-get install python3-torch python3-numpy python3-pil; FACEGAR_TORCH_PYTHON names
// another interpreter); skipped, saying so, where there is none.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { SeededRandom } from '../../src/common/seeded-random.ts';
import { LandmarkRegressor, type LandmarkRegressorConfig } from '../../src/invert/landmark-regressor.ts';
import { decodeLandmarkRegressor } from '../../src/invert/landmark-regressor-checkpoint.ts';
import { readLandmarkRegressorFiles } from '../../src/io/node/gar-models.ts';
import { encodeNpy } from '../../scripts/gpu/npy-file.ts';
import { runProcess } from '../helpers/scripts.ts';

const python = process.env.FACEGAR_TORCH_PYTHON ?? '/usr/bin/python3';
const hasTorch = spawnSync(python, ['-c', 'import torch, numpy, PIL'], { stdio: 'ignore' }).status === 0;
const skip = hasTorch ? false : `no torch for ${python} (apt-get install python3-torch python3-numpy python3-pil)`;
const NETWORK: LandmarkRegressorConfig = { resolution: 16, channelBase: 128, channelMax: 16, hiddenFeatures: 16, landmarkCount: 68 };
const SEED = 3,
  COUNT = 4;

let dir = '';
let crops: Uint8Array;
before(async () => {
  if (!hasTorch) return;
  await initBackend({ backend: 'wasm' });
  dir = await mkdtemp(join(tmpdir(), 'facegar-landmark-torch-'));
  const random = new SeededRandom(11);
  crops = Uint8Array.from({ length: COUNT * 16 * 16 * 3 }, () => random.integer(256));
  const regressor = new LandmarkRegressor(NETWORK, SEED);
  const raw = tf.tidy(() => regressor.applyRaw(input()).dataSync() as Float32Array);
  regressor.dispose();
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ format: 1, landmarks: { network: NETWORK, seed: SEED } }));
  await writeFile(join(dir, 'fixture_landmark_crops.npy'), encodeNpy({ dtype: 'u1', shape: [COUNT, 16, 16, 3], values: crops }));
  await writeFile(join(dir, 'fixture_landmark_raw_outputs.npy'), encodeNpy({ dtype: 'f4', shape: [COUNT, 136], values: raw }));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const input = () =>
  tf.tensor4d(
    Float32Array.from(crops, (v) => v / 127.5 - 1),
    [COUNT, 16, 16, 3],
  );

test('torch LandmarkRegressor = TF.js from the same seed; its export loads in TF.js with the same outputs; trainer checks', { skip }, async () => {
  const checked = await runProcess(python, ['scripts/gpu/test_landmark_training.py', dir]);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  assert.match(checked.stdout, /ok {2}landmark regressor forward vs TS/);
  assert.match(checked.stdout, /landmark training checks: ok/);

  const files = await readLandmarkRegressorFiles(join(dir, 'regressor'));
  const { regressor, landmarkVertices, manifest } = decodeLandmarkRegressor(files.manifest, files.weights, { name: 'test', vertexCount: 400 });
  try {
    assert.equal(manifest.passes, 2);
    assert.deepEqual(
      Array.from(landmarkVertices),
      Array.from({ length: 68 }, (_, k) => 5 * k),
    );
    const reference = JSON.parse(await readFile(join(dir, 'reference.json'), 'utf8')) as { raw: number[][] };
    const x = input();
    const raw = regressor.applyRaw(x);
    const values = raw.arraySync() as number[][];
    tf.dispose([x, raw]);
    let worst = 0;
    values.forEach((row, n) =>
      row.forEach((v, k) => {
        worst = Math.max(worst, Math.abs(v - reference.raw[n][k]));
      }),
    );
    assert.ok(worst < 1e-3, `TS vs torch export: ${worst}`);
  } finally {
    regressor.dispose();
  }
});
