/**
 * Parity fixtures for the PyTorch port of the GAR (scripts/gpu/gar_torch.py), and the check that a
 * torch-exported GAR loads and renders the same in TF.js.
 *
 *   node --import tsx scripts/gpu/export-gar-parity.ts [--preset small] [--out .gpu-pack-gar]
 *        [--normal-estimator DIR] [--shipped models/gar-small]
 *     writes <out>/parity-<preset>.safetensors: weights (the shipped G_ema when its architecture
 *     matches the preset, named in the metadata and read by the torch side from --shipped; else G_rand:
 *     a seeded random generator with every weight perturbed so biases, noise strengths and w̄ all
 *     matter; D: a TS-initialised discriminator, perturbed likewise; N: the
 *     normal estimator from DIR, else a perturbed random one), inputs (normal maps from the
 *     GeometrySampler, z) and TF.js outputs (ws, images without noise, D logits, estimated normals,
 *     the normal-consistency loss). Tensors keep the TS layout (NHWC).
 *
 *   node --import tsx scripts/gpu/export-gar-parity.ts --check-export GAR_DIR --torch-render FILE
 *     loads GAR_DIR the way `facegar sample --gar` does (readGarModelFiles + decodeGarGenerator),
 *     renders FILE's normal maps and z (noise off, no truncation) and compares with FILE's torch image;
 *     exit 1 when the largest difference exceeds 1e-3.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { garNetworkConfig, type GarNetworkConfig } from '../../src/gar/gar-config.ts';
import { decodeGarGenerator } from '../../src/gar/checkpoint.ts';
import { Discriminator } from '../../src/gar/discriminator.ts';
import { Generator } from '../../src/gar/generator.ts';
import { GeometrySampler } from '../../src/gar/geometry-sampler.ts';
import { NormalEstimator, normalCosineLoss } from '../../src/gar/normal-estimator.ts';
import { decodeNormalEstimator, validateNormalEstimatorManifest } from '../../src/gar/normal-estimator-training.ts';
import type { ParameterOwner } from '../../src/gar/parameters.ts';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../../src/gar/safetensors.ts';
import { SeededRandom } from '../../src/common/seeded-random.ts';
import { ensureWritableDirectory, writeFileAtomic } from '../../src/io/node/atomic-write.ts';
import { readCheckpointFiles } from '../../src/io/node/checkpoint-files.ts';
import { readGarModelFiles } from '../../src/io/node/gar-models.ts';
import { loadMorphableModel } from '../../src/io/node/load-morphable-model.ts';
import { parseArgs } from 'node:util';

const TOLERANCE = 1e-3;
const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'small' },
    out: { type: 'string', default: '.gpu-pack-gar' },
    'normal-estimator': { type: 'string' },
    shipped: { type: 'string', default: 'models/gar-small' },
    'check-export': { type: 'string' },
    'torch-render': { type: 'string' },
    seed: { type: 'string', default: '5' },
  },
});

await initBackend();
if (values['check-export']) process.exit(await checkExport(values['check-export'], values['torch-render']));

const network = garNetworkConfig(values.preset!);
const seed = Number(values.seed);
const R = network.resolution;
const random = new SeededRandom(seed);
const arrays: NamedArray[] = [];
const put = (name: string, t: tf.Tensor) => arrays.push({ name, shape: t.shape, values: Float32Array.from(t.dataSync()) });
const putOwner = (group: string, owner: ParameterOwner) => {
  for (const [name, v] of owner.namedParameters()) put(`${group}.${name}`, v);
};

// Every weight moved off its initial value (biases and noise strengths start at 0, w̄ at 0).
function perturb(owner: ParameterOwner, scale: number): void {
  for (const [, v] of owner.namedParameters()) tf.tidy(() => v.assign(tf.add(v, tf.mul(tf.tensor(random.normals(v.size), v.shape), scale))));
}

const { model } = await loadMorphableModel({});
const sampler = new GeometrySampler(model, { resolution: R });
const batch = 4;
const { normals } = sampler.sampleNormalMaps(new SeededRandom(seed + 1), batch);
put('in.normals', normals);
const z = tf.tensor2d(random.normals(batch * network.zDim), [batch, network.zDim]);
const mixingZ = tf.tensor2d(random.normals(batch * network.zDim), [batch, network.zDim]);
put('in.z', z);
put('in.mixing_z', mixingZ);
const mixingCutoff = 3,
  truncationPsi = 0.7;

// The shipped G_ema when its resolution matches (read by the torch side from the same folder, so the
// fixture stays small), else a seeded random generator stored in the fixture.
const generators: [string, Generator][] = [];
const shippedDir = resolve(values.shipped!);
const shipped = await readGarModelFiles({ garDir: shippedDir }).catch(() => undefined);
const shippedNetwork = (shipped?.gar.manifest as unknown as { config?: { network: GarNetworkConfig } } | undefined)?.config?.network;
let fixtureNotes: Record<string, string> = {};
if (shipped && JSON.stringify(shippedNetwork) === JSON.stringify(network)) {
  generators.push(['G_ship', decodeGarGenerator(shipped.gar.manifest, shipped.gar.weights, 'G_ema')]);
  fixtureNotes = { shippedGar: values.shipped!, shippedGarSha256: createHash('sha256').update(shipped.gar.weights).digest('hex') };
} else {
  const randomG = new Generator(network, seed);
  perturb(randomG, 0.1);
  putOwner('G_rand', randomG);
  generators.push(['G_rand', randomG]);
}
const images: tf.Tensor4D[] = [];
for (const [group, g] of generators) {
  const ws = g.mapLatents(z);
  put(`out.${group}.ws`, ws);
  const image = g.synthesize(ws, normals);
  put(`out.${group}.image`, image);
  images.push(image);
  const wsMixed = g.mapLatents(z, { truncationPsi, mixingZ, mixingCutoff });
  put(`out.${group}.ws_mixed`, wsMixed);
  put(`out.${group}.image_mixed`, g.synthesize(wsMixed, normals));
}

// D on 8 images: two minibatch-stddev groups of 4.
const discriminator = new Discriminator(network, seed + 2);
perturb(discriminator, 0.1);
putOwner('D', discriminator);
const dInput = tf.concat([images[0], tf.tanh(tf.mul(images[0], -1.3))]) as tf.Tensor4D;
put('in.d_images', dInput);
put('out.D.logits', discriminator.apply(dInput));

let estimator: NormalEstimator;
const estimatorDir = values['normal-estimator'];
if (estimatorDir) {
  const saved = await readCheckpointFiles(resolve(estimatorDir), {
    validate: validateNormalEstimatorManifest,
    name: 'normal-estimator checkpoint',
    weightsName: 'weights',
  });
  if (!saved) throw new Error(`${estimatorDir}: no checkpoint.json`);
  estimator = decodeNormalEstimator(saved.manifest, saved.weights);
  fixtureNotes.normalEstimatorSha256 = createHash('sha256').update(saved.weights).digest('hex');
} else {
  estimator = new NormalEstimator({ resolution: R, seed: seed + 3 });
  perturb(estimator, 0.05);
}
putOwner('N', estimator);
const predicted = estimator.predict(dInput);
put('out.N.normals', predicted);
put('out.N.loss', tf.reshape(normalCosineLoss(tf.slice(predicted, [0, 0, 0, 0], [batch, R, R, 3]), normals), [1]));

const metadata = {
  format: 'facegar-gar-parity',
  preset: values.preset!,
  network: JSON.stringify(network),
  normalEstimator: JSON.stringify(estimator.config),
  generators: generators.map(([g]) => g).join(','),
  mixingCutoff: String(mixingCutoff),
  truncationPsi: String(truncationPsi),
  backend: tf.getBackend(),
  ...fixtureNotes,
};
const outDir = resolve(values.out!);
await ensureWritableDirectory(outDir);
const path = join(outDir, `parity-${values.preset}.safetensors`);
await writeFileAtomic(path, encodeSafetensors(arrays, metadata));
process.stdout.write(`${path}: ${arrays.length} tensors (${generators.map(([g]) => g).join(', ')}, D, N; backend ${tf.getBackend()})\n`);

async function checkExport(garDir: string, renderPath: string | undefined): Promise<number> {
  if (!renderPath) throw new Error('--check-export needs --torch-render FILE');
  const files = await readGarModelFiles({ garDir: resolve(garDir) });
  const generator = decodeGarGenerator(files.gar.manifest, files.gar.weights, 'G_ema');
  const { tensors } = decodeSafetensors(new Uint8Array(await readFile(renderPath)));
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${renderPath} lacks ${name}`);
    return tf.tensor(t.values, t.shape);
  };
  const image = generator.generate(get('normals') as tf.Tensor4D, get('z') as tf.Tensor2D);
  const difference = tf.max(tf.abs(tf.sub(image, get('image')))).dataSync()[0];
  const ok = difference <= TOLERANCE;
  process.stdout.write(`${garDir}: TF.js render vs torch render, max |Δ| ${difference.toExponential(2)} (${ok ? 'ok' : 'MISMATCH'}, tolerance ${TOLERANCE})\n`);
  return ok ? 0 : 1;
}
