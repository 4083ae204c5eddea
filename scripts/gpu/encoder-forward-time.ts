// How long one aligned crop takes through a FaceEncoder preset on this machine's TF.js backend
// (wasm by default): the inference cost the GAR path pays once per face for the encoder's estimate.
//   node --import tsx scripts/gpu/encoder-forward-time.ts [--preset base] [--channel-base 8192] [--repeats 10]
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackend, initBackend } from '../../src/engine/backend.ts';
import { encoderNetworkConfig } from '../../src/invert/encoder-config.ts';
import { FaceEncoder } from '../../src/invert/face-encoder.ts';
import { parameterCount } from '../../src/gar/parameters.ts';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'base' },
    repeats: { type: 'string', default: '10' },
    'w-dim': { type: 'string', default: '128' },
    'channel-base': { type: 'string' },
  },
});
await initBackend();
const overrides = values['channel-base'] ? { channelBase: Number(values['channel-base']) } : {};
const network = encoderNetworkConfig(values.preset!, { identityCount: 100, expressionCount: 53, wDim: Number(values['w-dim']) }, overrides);
const encoder = new FaceEncoder(network, 1);
const R = network.resolution;
const crop = tf.randomUniform([1, R, R, 3], -1, 1, 'float32', 7) as tf.Tensor4D;
const timesMs: number[] = [];
for (let i = 0; i < Number(values.repeats) + 1; i++) {
  const started = performance.now();
  encoder.estimate(crop); // reads the outputs back, as the GAR path does
  timesMs.push(performance.now() - started);
}
const warm = timesMs.slice(1).sort((a, b) => a - b);
const backend = describeBackend();
console.log(
  `${encoder.describe()}, channelBase ${network.channelBase}, ${(parameterCount(encoder) / 1e6).toFixed(2)} M weights; backend ${backend.name} (${backend.threads} threads)`,
);
console.log(
  `first call ${timesMs[0].toFixed(0)} ms; then median ${warm[Math.floor(warm.length / 2)].toFixed(0)} ms, min ${warm[0].toFixed(0)} ms over ${warm.length} calls`,
);
crop.dispose();
encoder.dispose();
