// Does TS read a GPU-trained encoder as PyTorch computed it? Loads OUT/encoder with the same code
// `facegar reconstruct --encoder` uses, runs it on the pack's fixture crops and compares the raw
// (standardised) outputs with OUT/encoder/pytorch-outputs.json, written by train_shape_encoder.py.
//   node --import tsx scripts/gpu/check-encoder-export.ts --encoder OUT/encoder [--pack .gpu-pack]
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { decodeFaceEncoder } from '../../src/invert/encoder-checkpoint.ts';
import { readGarModelFiles } from '../../src/io/node/gar-models.ts';
import { decodeNpy } from './npy-file.ts';

const { values } = parseArgs({ options: { encoder: { type: 'string' }, pack: { type: 'string', default: '.gpu-pack' } } });
if (!values.encoder) throw new Error('--encoder OUT/encoder is required');
await initBackend();
const encoderDir = resolve(values.encoder);
// The encoder alone: readGarModelFiles needs a GAR folder too, so point it at the shipped one.
const files = await readGarModelFiles({ garDir: resolve('models/gar-small'), encoderDir });
const encoder = decodeFaceEncoder(files.encoder!.manifest, files.encoder!.weights);
const crops = decodeNpy(await readFile(join(resolve(values.pack!), 'fixture_encoder_crops.npy')));
if (crops.dtype !== 'f4') throw new Error('fixture_encoder_crops.npy is not float32');
const reference = JSON.parse(await readFile(join(encoderDir, 'pytorch-outputs.json'), 'utf8')) as { raw: number[][] };
const raw = tf.tidy(() => encoder.applyRaw(tf.tensor4d(crops.values, crops.shape as [number, number, number, number])).arraySync() as number[][]);
let worst = 0;
raw.forEach((row, i) =>
  row.forEach((v, k) => {
    worst = Math.max(worst, Math.abs(v - reference.raw[i][k]));
  }),
);
const first = tf.tensor4d(crops.values.subarray(0, crops.values.length / crops.shape[0]), [1, ...crops.shape.slice(1)] as [number, number, number, number]);
const estimate = encoder.estimate(first)[0];
first.dispose();
console.log(`${encoder.describe()} from ${encoderDir}`);
console.log(`TS vs PyTorch raw outputs on ${raw.length} crops: max |difference| ${worst.toExponential(2)} (${worst < 1e-3 ? 'ok' : 'FAIL'}: tolerance 1e-3)`);
console.log(
  `first crop: identity[0..4] ${Array.from(estimate.identity.subarray(0, 5), (v) => v.toFixed(3)).join(' ')}, yaw ${((estimate.pose.eulerRad[1] * 180) / Math.PI).toFixed(1)}°, logFocal ${estimate.pose.logFocal.toFixed(3)}, w[0..2] ${Array.from(estimate.w.subarray(0, 3), (v) => v.toFixed(4)).join(' ')}`,
);
encoder.dispose();
process.exitCode = worst < 1e-3 ? 0 : 1;
