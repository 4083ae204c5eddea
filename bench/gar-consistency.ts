// Cost of the GAR's geometry-consistency losses: mean wall and CPU time of a training step (G + D; R1
// every 16th, path length every 4th step as by default) with the losses off, with each on, and
// with both, on the same seed. Prints JSON. The estimator's weights do not change its cost, so an
// untrained one is used unless --normal-estimator names a train-normals output. The identity loss
// (pairs in G's batch, --embedding network, default faceres) runs every step or every 4th.
// Run: FACEGAR_MODEL_DIR=... node --import tsx bench/gar-consistency.ts [--preset small] [--batch 4] [--steps 8]
//        [--settings off,identityEveryStep,identityEvery4] [--embedding faceres|mobilefacenet]
// With --run RUN_DIR instead: geometry agreement of a trained GAR's EMA generator against the same
// architecture at initialisation (the landmark loss, and the normal loss + mean angle when
// --normal-estimator matches its resolution), over --geometries random geometries, noise off.
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { initBackend, describeBackend } from '../src/engine/backend.ts';
import { createRgbaImage } from '../src/common/image.ts';
import { loadGraphModelFromBytes } from '../src/detect/graph-model.ts';
import {
  GAR_PRESETS,
  GarTrainer,
  Generator,
  GeometrySampler,
  SeededRandom,
  decodeGarGenerator,
  type GarPresetName,
  type TrainGarConfig,
} from '../src/gar/index.ts';
import { FaceMeshLandmarks, landmarkConsistencyLoss, landmarkTargets, normalConsistencyLoss } from '../src/gar/geometry-consistency.ts';
import { createIdentityConsistencyLoss } from '../src/gar/identity-consistency.ts';
import { createFaceEmbedder, FACE_EMBEDDING_MODELS, type FaceEmbeddingModelName } from '../src/detect/face-embedding.ts';
import { loadFaceEmbeddingModelFile } from '../src/io/node/face-embedding-model.ts';
import { NormalEstimator, meanNormalAngleDeg } from '../src/gar/normal-estimator.ts';
import { readGarCheckpoint } from '../src/io/node/checkpoint-files.ts';
import { decodeNormalEstimator, validateNormalEstimatorManifest } from '../src/gar/normal-estimator-training.ts';
import { readCheckpointFiles } from '../src/io/node/checkpoint-files.ts';
import { loadDetectorModelFiles } from '../src/io/node/detector-models.ts';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'small' },
    batch: { type: 'string', default: '4' },
    steps: { type: 'string', default: '8' },
    'normal-estimator': { type: 'string' },
    run: { type: 'string' },
    geometries: { type: 'string', default: '32' },
    settings: { type: 'string' },
    embedding: { type: 'string', default: 'faceres' },
  },
});
if (values.run) {
  await measureAgreement(values.run, Number(values.geometries));
  process.exit(0);
}
const preset = values.preset as GarPresetName;
const network = GAR_PRESETS[preset];
const R = network.resolution,
  batchSize = Number(values.batch),
  steps = Number(values.steps);
await initBackend();
const { model } = await loadMorphableModel({});
const sampler = new GeometrySampler(model, { resolution: R });
const reals = Array.from({ length: 8 }, (_, i) => {
  const image = createRgbaImage(R, R);
  for (let p = 0; p < image.data.length; p += 4) {
    image.data[p] = 30 * i;
    image.data[p + 1] = (p / 4) % 255;
    image.data[p + 2] = 128;
    image.data[p + 3] = 255;
  }
  return image;
});
let estimator: NormalEstimator;
if (values['normal-estimator']) {
  const saved = await readCheckpointFiles(values['normal-estimator'], {
    validate: validateNormalEstimatorManifest,
    name: 'normal-estimator checkpoint',
    weightsName: 'weights',
  });
  estimator = decodeNormalEstimator(saved!.manifest, saved!.weights);
} else {
  estimator = new NormalEstimator({ resolution: R });
}
const graph = await loadGraphModelFromBytes((await loadDetectorModelFiles()).facemesh, 'facemesh');
const landmarks = new FaceMeshLandmarks(graph);
const embeddingName = values.embedding as FaceEmbeddingModelName;
if (!Object.hasOwn(FACE_EMBEDDING_MODELS, embeddingName)) throw new Error(`--embedding: one of ${Object.keys(FACE_EMBEDDING_MODELS).join(', ')}`);
const embedder = await createFaceEmbedder(await loadFaceEmbeddingModelFile({ name: embeddingName }), FACE_EMBEDDING_MODELS[embeddingName]);
const identity = createIdentityConsistencyLoss(embedder);

const allSettings: [string, Partial<TrainGarConfig>][] = [
  ['off', {}],
  ['normal', { normalWeight: 1 }],
  ['landmarkEveryStep', { landmarkWeight: 1, landmarkInterval: 1 }],
  ['normalAndLandmarkEvery4', { normalWeight: 1, landmarkWeight: 1, landmarkInterval: 4 }],
  ['identityEveryStep', { identityWeight: 1, identityInterval: 1 }],
  ['identityEvery4', { identityWeight: 1, identityInterval: 4 }],
];
const chosen = values.settings?.split(',');
const unknown = chosen?.filter((name) => !allSettings.some(([known]) => known === name));
if (unknown?.length) throw new Error(`--settings: unknown ${unknown.join(', ')} (known: ${allSettings.map(([name]) => name).join(', ')})`);
const settings = chosen ? allSettings.filter(([name]) => chosen.includes(name)) : allSettings;
const results: Record<string, number> = {};
// CPU time too: on a machine shared with other jobs the wall time mostly measures the contention.
const cpuResults: Record<string, number> = {};
// Steps of the settings interleaved (one step of each in turn), so that drifts in the machine's
// load fall on all of them alike.
const trainers = settings.map(([name, train]) => {
  const trainer = new GarTrainer({ network, sampler, realImages: reals, train: { batchSize, seed: 0, ...train } });
  trainer.consistency = { normalEstimator: estimator, landmarks, identity };
  trainer.trainStep(); // warm-up
  results[name] = 0;
  cpuResults[name] = 0;
  return [name, trainer] as const;
});
for (let i = 0; i < steps; i++) {
  for (const [name, trainer] of trainers) {
    const started = performance.now(),
      cpuStarted = process.cpuUsage();
    trainer.trainStep();
    const cpu = process.cpuUsage(cpuStarted);
    results[name] += (performance.now() - started) / steps;
    cpuResults[name] += (cpu.user + cpu.system) / 1000 / steps;
  }
}
for (const [name, trainer] of trainers) {
  results[name] = Math.round(results[name]);
  cpuResults[name] = Math.round(cpuResults[name]);
  trainer.dispose();
}
estimator.dispose();
landmarks.dispose();
graph.dispose();
embedder.dispose();
console.log(
  JSON.stringify({
    preset,
    batchSize,
    steps,
    embedding: embeddingName,
    msPerStep: results,
    cpuMsPerStep: cpuResults,
    loadAverage1m: Math.round(loadavg()[0] * 10) / 10,
    backend: describeBackend(),
    tensorsLeft: tf.memory().numTensors,
  }),
);

/** Landmark (and normal) agreement of the run's EMA generator vs the untrained architecture. */
async function measureAgreement(runDir: string, count: number): Promise<void> {
  await initBackend();
  const saved = await readGarCheckpoint(runDir);
  if (!saved) throw new Error(`${runDir}: no GAR checkpoint`);
  const trained = decodeGarGenerator(saved.manifest, saved.weights);
  const untrained = new Generator(saved.manifest.config.network, saved.manifest.config.train.seed * 3 + 1);
  const R = trained.config.resolution;
  const { model } = await loadMorphableModel({});
  const sampler = new GeometrySampler(model, { resolution: R });
  const graph = await loadGraphModelFromBytes((await loadDetectorModelFiles()).facemesh, 'facemesh');
  const landmarks = new FaceMeshLandmarks(graph);
  let estimator: NormalEstimator | undefined;
  if (values['normal-estimator']) {
    const file = await readCheckpointFiles(values['normal-estimator'], {
      validate: validateNormalEstimatorManifest,
      name: 'normal-estimator checkpoint',
      weightsName: 'weights',
    });
    estimator = decodeNormalEstimator(file!.manifest, file!.weights);
    if (estimator.config.resolution !== R) {
      estimator.dispose();
      estimator = undefined;
    }
  }
  const random = new SeededRandom(2024);
  const { normals, geometries } = sampler.sampleNormalMaps(random, count);
  const z = tf.tensor2d(random.normals(count * trained.config.zDim), [count, trained.config.zDim]);
  const targets = landmarkTargets(geometries);
  const measure = (generator: Generator) => {
    const images = generator.generate(normals, z);
    const out: Record<string, number> = {
      landmarkErrorOverInterOcular: round3(tf.tidy(() => landmarkConsistencyLoss(landmarks, images, targets.points, targets.interOcularPx).dataSync()[0])),
    };
    if (estimator) {
      out.normalCosineDistance = round3(tf.tidy(() => normalConsistencyLoss(estimator!, images, normals).dataSync()[0]));
      const predicted = estimator.predict(images);
      out.normalMeanAngleDeg = round3(meanNormalAngleDeg(predicted, normals));
      predicted.dispose();
    }
    images.dispose();
    return out;
  };
  console.log(
    JSON.stringify({ run: runDir, step: saved.manifest.step, resolution: R, geometries: count, trained: measure(trained), initialisation: measure(untrained) }),
  );
  tf.dispose([normals, z, targets.points, targets.interOcularPx]);
  trained.dispose();
  untrained.dispose();
  landmarks.dispose();
  graph.dispose();
  estimator?.dispose();
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
