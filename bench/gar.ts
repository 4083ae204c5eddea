// GAR timings on this machine: generator forward and forward+backward at the `base` preset
// (128², batch 1), and training steps (G + D, tiny and base) per second. Prints JSON.
// Run: FACEGAR_MODEL_DIR=... node --import tsx bench/gar.ts
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, describeBackend } from '../src/engine/backend.ts';
import { GAR_PRESETS, Generator, GarTrainer, GeometrySampler } from '../src/gar/index.ts';
import { createRgbaImage } from '../src/common/image.ts';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';

await initBackend();
const time = (runs: number, f: () => void) => { f(); const t = performance.now(); for (let i = 0; i < runs; i++) f(); return (performance.now() - t) / runs; };
const base = GAR_PRESETS.base;
const generator = new Generator(base, 1);
const normals = tf.randomUniform([1, 128, 128, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
const z = tf.randomNormal([1, base.zDim], 0, 1, 'float32', 2) as tf.Tensor2D;
const forwardMs = time(3, () => { tf.tidy(() => generator.generate(normals, z).dataSync()); });
const backwardMs = time(2, () => { const r = tf.variableGrads(() => tf.mean(tf.square(generator.generate(normals, z))) as tf.Scalar, generator.trainableVariables()); r.value.dataSync(); tf.dispose([r.value, ...Object.values(r.grads)]); });
generator.dispose();
tf.dispose([normals, z]);
const { model } = await loadMorphableModel({});
const steps: Record<string, number> = {};
for (const [preset, batch, count] of [['tiny', 4, 4], ['base', 2, 2]] as const) {
  const network = GAR_PRESETS[preset];
  const reals = Array.from({ length: 4 }, () => createRgbaImage(network.resolution, network.resolution));
  const trainer = new GarTrainer({ network, sampler: new GeometrySampler(model, { resolution: network.resolution }), realImages: reals, train: { batchSize: batch, r1Interval: 4, pathLengthInterval: 4 } });
  trainer.trainStep();
  const t = performance.now();
  for (let i = 0; i < count; i++) trainer.trainStep();
  steps[`${preset}_batch${batch}_steps_per_s`] = count / ((performance.now() - t) / 1000);
  trainer.dispose();
}
const round = (x: number) => Math.round(x * 100) / 100;
process.stdout.write(JSON.stringify({ backend: describeBackend().name, threads: describeBackend().threads, base_generator_128_batch1: { forwardMs: round(forwardMs), forwardBackwardMs: round(backwardMs) },
  trainingStepsPerSecond: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, round(v)])), note: 'R1 and path length every 4th step in the step timings' }) + '\n');
