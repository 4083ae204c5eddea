// GAR timings on this machine, per preset: generator forward and forward+backward (gradients of
// every trainable variable, an L2 loss), batch 1, best of the runs; then training steps
// (G + D, R1 and path length every 4th step) per second. Prints JSON.
// Run: FACEGAR_MODEL_DIR=... node --import tsx bench/gar.ts [--presets tiny,small,base] [--runs 3] [--train tiny,small]
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend, describeBackend } from '../src/engine/backend.ts';
import { GAR_PRESETS, Generator, GarTrainer, GeometrySampler, type GarPresetName } from '../src/gar/index.ts';
import { createRgbaImage } from '../src/common/image.ts';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';

const { values } = parseArgs({ options: { presets: { type: 'string', default: 'tiny,small,base' }, runs: { type: 'string', default: '3' }, train: { type: 'string', default: 'tiny,small' }, batch: { type: 'string', default: '4' } } });
const runs = Number(values.runs);
const round = (x: number) => Math.round(x * 10) / 10;
const best = (count: number, f: () => void) => { f(); let min = Infinity; for (let i = 0; i < count; i++) { const t = performance.now(); f(); min = Math.min(min, performance.now() - t); } return min; };

/** Generator forward / forward+backward of a preset at batch 1, ms. */
export function measureGarGenerator(preset: GarPresetName, runCount: number): { forwardMs: number; forwardBackwardMs: number; parameters: number } {
  const config = GAR_PRESETS[preset];
  const generator = new Generator(config, 1);
  const R = config.resolution;
  const normals = tf.randomUniform([1, R, R, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const z = tf.randomNormal([1, config.zDim], 0, 1, 'float32', 2) as tf.Tensor2D;
  const forwardMs = best(runCount, () => { tf.tidy(() => generator.generate(normals, z).dataSync()); });
  const forwardBackwardMs = best(runCount, () => {
    const r = tf.variableGrads(() => tf.mean(tf.square(generator.generate(normals, z))) as tf.Scalar, generator.trainableVariables());
    r.value.dataSync();
    tf.dispose([r.value, ...Object.values(r.grads)]);
  });
  const parameters = generator.trainableVariables().reduce((s, v) => s + v.size, 0);
  generator.dispose();
  tf.dispose([normals, z]);
  return { forwardMs: round(forwardMs), forwardBackwardMs: round(forwardBackwardMs), parameters };
}

await initBackend();
const generators: Record<string, unknown> = {};
for (const preset of values.presets.split(',').filter(Boolean) as GarPresetName[]) {
  const c = GAR_PRESETS[preset];
  generators[`${preset}_${c.resolution}_batch1`] = measureGarGenerator(preset, runs);
  process.stderr.write(`${preset}: ${JSON.stringify(generators[`${preset}_${c.resolution}_batch1`])}\n`);
}
const steps: Record<string, number> = {};
const trainPresets = values.train.split(',').filter(Boolean) as GarPresetName[];
if (trainPresets.length > 0) {
  const { model } = await loadMorphableModel({});
  const batch = Number(values.batch);
  for (const preset of trainPresets) {
    const network = GAR_PRESETS[preset];
    const reals = Array.from({ length: 4 }, () => createRgbaImage(network.resolution, network.resolution));
    const trainer = new GarTrainer({ network, sampler: new GeometrySampler(model, { resolution: network.resolution }), realImages: reals, train: { batchSize: batch, r1Interval: 4, pathLengthInterval: 4 } });
    trainer.trainStep();
    const count = 4, t = performance.now();
    for (let i = 0; i < count; i++) trainer.trainStep();
    steps[`${preset}_batch${batch}_steps_per_s`] = Math.round(count / ((performance.now() - t) / 1000) * 100) / 100;
    trainer.dispose();
  }
}
process.stdout.write(JSON.stringify({ backend: describeBackend().name, threads: describeBackend().threads, generators, trainingStepsPerSecond: steps,
  note: 'best of runs; training steps include normal-map rasterisation, R1 and path length every 4th step' }) + '\n');
