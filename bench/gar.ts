// GAR timings on this machine, per preset: generator forward and forward+backward (gradients of
// every trainable variable, an L2 loss), batch 1, best of the runs; then training steps
// (G + D, R1 and path length every 4th step) per second. Prints JSON.
// Run: FACEGAR_MODEL_DIR=... node --import tsx bench/gar.ts [--presets tiny,small,base] [--runs 3] [--train tiny,small]
// With --run RUN_DIR instead: how much of a trained EMA generator's output follows the geometry
// (geometryShare, below) against the same architecture at initialisation.
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend, describeBackend } from '../src/engine/backend.ts';
import { GAR_PRESETS, Generator, GarTrainer, GeometrySampler, type GarPresetName } from '../src/gar/index.ts';
import { createRgbaImage } from '../src/common/image.ts';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';

const { values } = parseArgs({
  options: {
    presets: { type: 'string', default: 'tiny,small,base' },
    runs: { type: 'string', default: '3' },
    train: { type: 'string', default: 'tiny,small' },
    batch: { type: 'string', default: '4' },
    run: { type: 'string' },
  },
});
const runs = Number(values.runs);
const round = (x: number) => Math.round(x * 10) / 10;
const best = (count: number, f: () => void) => {
  f();
  let min = Infinity;
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    f();
    min = Math.min(min, performance.now() - t);
  }
  return min;
};

/** Generator forward / forward+backward of a preset at batch 1, ms. */
export function measureGarGenerator(preset: GarPresetName, runCount: number): { forwardMs: number; forwardBackwardMs: number; parameters: number } {
  const config = GAR_PRESETS[preset];
  const generator = new Generator(config, 1);
  const R = config.resolution;
  const normals = tf.randomUniform([1, R, R, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const z = tf.randomNormal([1, config.zDim], 0, 1, 'float32', 2) as tf.Tensor2D;
  const forwardMs = best(runCount, () => {
    tf.tidy(() => generator.generate(normals, z).dataSync());
  });
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

/**
 * geometryShare: for G geometries × L latents (noise off), the mean over pixels of the variance
 * across geometries (latent fixed) over that plus the variance across latents (geometry fixed).
 * 1 = the image is set by the normal map alone, 0 = by the latent alone.
 */
function geometryShare(generator: Generator, normals: tf.Tensor4D, latents: number, seed: number): number {
  return tf.tidy(() => {
    const g = normals.shape[0],
      zDim = generator.config.zDim;
    const z = tf.randomNormal([latents, zDim], 0, 1, 'float32', seed);
    const images = tf.stack(
      Array.from({ length: latents }, (_, l) => generator.generate(normals, tf.tile(tf.slice(z, [l, 0], [1, zDim]), [g, 1]) as tf.Tensor2D)),
    ); // [L, G, R, R, 3]
    const acrossGeometries = tf.mean(tf.moments(images, 1).variance);
    const acrossLatents = tf.mean(tf.moments(images, 0).variance);
    return tf.div(acrossGeometries, tf.add(acrossGeometries, acrossLatents)).dataSync()[0];
  });
}

await initBackend();
if (values.run) {
  const { readGarCheckpoint } = await import('../src/io/node/checkpoint-files.ts');
  const { decodeGarGenerator } = await import('../src/gar/checkpoint.ts');
  const { SeededRandom } = await import('../src/common/seeded-random.ts');
  const saved = await readGarCheckpoint(values.run);
  if (!saved) throw new Error(`${values.run}: no checkpoint`);
  const trained = decodeGarGenerator(saved.manifest, saved.weights);
  const initial = new Generator(saved.manifest.config.network, saved.manifest.config.train.seed * 3 + 1);
  const { model } = await loadMorphableModel({});
  const sampler = new GeometrySampler(model, { resolution: trained.config.resolution });
  const { normals } = sampler.sampleNormalMaps(new SeededRandom(99), 16);
  const share = (generator: Generator) => Math.round(geometryShare(generator, normals, 16, 5) * 1000) / 1000;
  process.stdout.write(
    JSON.stringify({
      run: values.run,
      step: saved.manifest.step,
      geometries: 16,
      latents: 16,
      geometryShareTrained: share(trained),
      geometryShareInitial: share(initial),
    }) + '\n',
  );
  process.exit(0);
}
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
    const trainer = new GarTrainer({
      network,
      sampler: new GeometrySampler(model, { resolution: network.resolution }),
      realImages: reals,
      train: { batchSize: batch, r1Interval: 4, pathLengthInterval: 4 },
    });
    trainer.trainStep();
    const count = 4,
      t = performance.now();
    for (let i = 0; i < count; i++) trainer.trainStep();
    steps[`${preset}_batch${batch}_steps_per_s`] = Math.round((count / ((performance.now() - t) / 1000)) * 100) / 100;
    trainer.dispose();
  }
}
process.stdout.write(
  JSON.stringify({
    backend: describeBackend().name,
    threads: describeBackend().threads,
    generators,
    trainingStepsPerSecond: steps,
    note: 'best of runs; training steps include normal-map rasterisation, R1 and path length every 4th step',
  }) + '\n',
);
