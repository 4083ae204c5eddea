// Does TS read a GPU-trained landmark regressor as PyTorch computed it? Loads OUT/regressor with the
// loader `facegar reconstruct --landmark-regressor` uses (SHA-256 checked), runs it on the landmark
// pack's 8-bit fixture crops and compares the raw outputs with `exportCheck` in OUT/metrics.json,
// written by train_landmarks.py at the same export. Exit 1 when they differ by 1e-3 or more.
//   node --import tsx scripts/gpu/check-landmark-export.ts --regressor OUT/regressor [--metrics OUT/metrics.json] [--pack .gpu-pack-landmarks]
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { decodeLandmarkRegressor } from '../../src/invert/landmark-regressor-checkpoint.ts';
import { readLandmarkRegressorFiles } from '../../src/io/node/gar-models.ts';
import { decodeNpy } from './npy-file.ts';

const { values } = parseArgs({
  options: { regressor: { type: 'string' }, metrics: { type: 'string' }, pack: { type: 'string', default: '.gpu-pack-landmarks' } },
});
if (!values.regressor) throw new Error('--regressor OUT/regressor is required');
await initBackend();
const regressorDir = resolve(values.regressor);
const files = await readLandmarkRegressorFiles(regressorDir);
const { regressor, landmarkVertices, manifest } = decodeLandmarkRegressor(files.manifest, files.weights);
const crops = decodeNpy(gunzipSync(await readFile(join(resolve(values.pack!), 'fixture_landmark_crops.npy.gz'))));
if (crops.dtype !== 'u1') throw new Error('fixture_landmark_crops is not uint8');
const metrics = JSON.parse(await readFile(values.metrics ?? join(dirname(regressorDir), 'metrics.json'), 'utf8')) as {
  exportCheck: { raw: number[][] };
  history: unknown[];
};
const shape = crops.shape as [number, number, number, number];
const input = tf.tensor4d(
  Float32Array.from(crops.values, (v) => v / 127.5 - 1),
  shape,
);
const raw = tf.tidy(() => regressor.applyRaw(input).arraySync() as number[][]);
let worst = 0;
raw.forEach((row, i) =>
  row.forEach((v, k) => {
    worst = Math.max(worst, Math.abs(v - metrics.exportCheck.raw[i][k]));
  }),
);
const points = regressor.predictCropPx(input)[0];
input.dispose();
console.log(`${regressor.describe()} from ${regressorDir} (step ${manifest.step}; vertices ${Array.from(landmarkVertices.subarray(0, 3)).join(', ')}, …)`);
console.log(`TS vs PyTorch raw outputs on ${raw.length} crops: max |difference| ${worst.toExponential(2)} (${worst < 1e-3 ? 'ok' : 'FAIL'}: tolerance 1e-3)`);
console.log(
  `first crop: point 30 (nose tip) at (${points[60].toFixed(1)}, ${points[61].toFixed(1)}) px, point 8 (chin) at (${points[16].toFixed(1)}, ${points[17].toFixed(1)}) px of ${regressor.config.resolution}`,
);
console.log(`last validation: ${JSON.stringify(metrics.history.at(-1))}`);
regressor.dispose();
process.exitCode = worst < 1e-3 ? 0 : 1;
