/**
 * Does a short real GAR training learn the geometry? (issue 5, "Done means", second bullet)
 *
 *   npm run gar-check                      # = node --import tsx scripts/gar-learning-check.ts
 *   npm run gar-check -- --steps 800 --n 64 --swaps 16 --seed 0 --cache DIR
 *
 * 1. Renders `--faces` studio crops at 32² (the stream of `facegar prepare --synthetic`, seed 0) with
 *    their exact normal maps, plus `--heldout` crops of the normal estimator's held-out stream; both
 *    are cached under `--cache` (default: $FACEGAR_CACHE_DIR/gar-check).
 * 2. Trains a 32² normal estimator (the judge of normal agreement) on those crops, cached beside them.
 * 3. Trains the `tiny` GAR (32²) for `--steps` steps from `--seed`, adversarial loss only (no
 *    geometry-consistency loss: the judges below never saw its gradients), R1 γ 0.1, no path length,
 *    as the tiny run of src/gar/README.md.
 * 4. Measures the generator at initialisation and the trained EMA generator on the same geometries
 *    and latents (src/eval/gar-quality.ts): landmark agreement (FaceMesh on the render vs the
 *    geometry's model landmarks, / inter-ocular distance), normal agreement (mean angle between the
 *    estimator's normals of the render and the input normal map, face mask), the geometry-swap
 *    measures, and an appearance measure: mean colour of face and background of (w, A), (w, B) and
 *    (w', A) — the same latent should keep the colours under a new geometry more than a new latent does.
 *
 * Prints one verdict line per measure (trained vs initial, ratio) and exits 1 unless the trained
 * generator beats the initial one by `--margin` on both landmark and normal agreement.
 * Deterministic: every draw comes from seeds. Offline: needs FACEGAR_MODEL_DIR (or a cached model).
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { EXIT_CODES, FacegarError, UsageError } from '../src/common/errors.ts';
import type { RgbaImage } from '../src/common/image.ts';
import { integerOption, parseCommandArgs } from '../src/cli/command-options.ts';
import { createFaceEmbedder, FACE_EMBEDDING_MODELS } from '../src/detect/face-embedding.ts';
import { FaceMesh } from '../src/detect/facemesh.ts';
import { loadGraphModelFromBytes } from '../src/detect/graph-model.ts';
import { initBackend } from '../src/engine/backend.ts';
import { embedCrops, measureGenerator, measureRealSet, type GeneratorQuality } from '../src/eval/gar-quality.ts';
import { garImagesToRgba } from '../src/eval/gar-quality-measures.ts';
import { garNetworkConfig } from '../src/gar/gar-config.ts';
import { Generator } from '../src/gar/generator.ts';
import { GeometrySampler, type SampledGeometry } from '../src/gar/geometry-sampler.ts';
import { meanNormalAngleDeg, normalMapMask, type NormalEstimator } from '../src/gar/normal-estimator.ts';
import {
  decodeNormalEstimator,
  encodeNormalEstimatorCheckpoint,
  evaluateNormalEstimator,
  NormalEstimatorTrainer,
  validateNormalEstimatorManifest,
} from '../src/gar/normal-estimator-training.ts';
import { renderNormalSample, type NormalSample, type NormalSampleStream } from '../src/gar/normal-training-data.ts';
import { SeededRandom } from '../src/common/seeded-random.ts';
import { GarTrainer } from '../src/gar/train-gar.ts';
import { ensureWritableDirectory, makeDirectories, writeFileAtomic } from '../src/io/node/atomic-write.ts';
import { readCheckpointFiles, saveCheckpointFiles } from '../src/io/node/checkpoint-files.ts';
import { loadDetectorModelFiles } from '../src/io/node/detector-models.ts';
import { loadFaceEmbeddingModelFile } from '../src/io/node/face-embedding-model.ts';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';
import { defaultCacheDir } from '../src/io/node/model-cache.ts';

const RESOLUTION = 32;
const CHECK_FAILED = 1;
const HELP = `Usage: npm run gar-check -- [options]   (node --import tsx scripts/gar-learning-check.ts)
  --steps <n>            GAR training steps (default: 800)
  --faces <n>            studio training crops at 32² (default: 160)
  --heldout <n>          held-out crops for the normal estimator's own error (default: 32)
  --estimator-steps <n>  normal-estimator training steps (default: 600)
  --n <n>                renders per generator for landmark / normal agreement (default: 64)
  --swaps <n>            geometry-swap triplets read by FaceMesh and FaceRes (default: 16)
  --colour-swaps <n>     geometry-swap triplets read by colours and estimated normals (default: 48)
  --seed <n>             seed of the GAR training (data and estimator use seed 0) (default: 0)
  --margin <x>           trained / initial must be below 1 − margin to pass (default: 0.1)
  --cache <dir>          where renders and the estimator are cached (default: $FACEGAR_CACHE_DIR/gar-check)
  --model <dir>          ICT-FaceKit model directory (default: $FACEGAR_MODEL_DIR, cache)
`;

const log = (line: string) => process.stderr.write(`${line}\n`);
const seconds = (startedMs: number) => ((Date.now() - startedMs) / 1000).toFixed(1);

async function main(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      steps: { type: 'string', default: '800' },
      faces: { type: 'string', default: '160' },
      heldout: { type: 'string', default: '32' },
      'estimator-steps': { type: 'string', default: '600' },
      n: { type: 'string', default: '64' },
      swaps: { type: 'string', default: '16' },
      'colour-swaps': { type: 'string', default: '48' },
      seed: { type: 'string', default: '0' },
      margin: { type: 'string', default: '0.1' },
      cache: { type: 'string' },
      model: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    { allowPositionals: false },
  );
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT_CODES.ok;
  }
  const steps = integerOption(values.steps, 'steps', 1);
  const faces = integerOption(values.faces, 'faces', 4);
  const heldout = integerOption(values.heldout, 'heldout', 4);
  const estimatorSteps = integerOption(values['estimator-steps'], 'estimator-steps', 1);
  const count = integerOption(values.n, 'n', 4);
  const swaps = integerOption(values.swaps, 'swaps', 1);
  const colourSwaps = integerOption(values['colour-swaps'], 'colour-swaps', 1);
  const seed = integerOption(values.seed, 'seed', 0);
  const margin = Number(values.margin);
  if (!(margin >= 0 && margin < 1)) throw new UsageError(`Expected a number in [0, 1) for --margin but received ${values.margin}`);
  const cacheDir = resolve(values.cache ?? join(defaultCacheDir(), 'gar-check'));
  const started = Date.now();

  await initBackend();
  await makeDirectories(cacheDir);
  await ensureWritableDirectory(cacheDir);
  const { model } = await loadMorphableModel({ modelDir: values.model });
  const sampler = new GeometrySampler(model, { resolution: RESOLUTION });

  // 1. Studio crops with exact normal maps (cached).
  let phase = Date.now();
  const trainSamples = await cachedSamples(cacheDir, model, 'train', faces);
  const heldOutSamples = await cachedSamples(cacheDir, model, 'heldout', heldout);
  log(`data: ${faces} training + ${heldout} held-out studio crops at ${RESOLUTION}² ready in ${seconds(phase)} s (${cacheDir})`);

  // 2. The normal estimator that judges normal agreement (cached).
  phase = Date.now();
  const estimator = await cachedNormalEstimator(join(cacheDir, `normals-${RESOLUTION}px-f${faces}-s${estimatorSteps}`), trainSamples, estimatorSteps);
  const estimatorError = evaluateNormalEstimator(estimator, heldOutSamples);
  log(
    `normal estimator ${RESOLUTION}²: ${estimatorSteps} steps, held-out mean angle ${estimatorError.meanAngleDeg.toFixed(1)}° on real studio crops (${seconds(phase)} s)`,
  );

  // 3. The GAR: initial network (the trainer's seed, before any step) and a short training.
  const setupSeconds = seconds(started);
  phase = Date.now();
  const network = garNetworkConfig('tiny');
  const initial = new Generator(network, seed * 3 + 1);
  const trainer = new GarTrainer({ network, sampler, realImages: trainSamples.map(sampleToRgba), train: { seed, r1Gamma: 0.1, pathLengthWeight: 0 } });
  const disposables: { dispose(): void }[] = [estimator, initial, trainer];
  try {
    for (let s = 1; s <= steps; s++) {
      const losses = trainer.trainStep();
      if (s % 50 === 0 || s === steps)
        log(`GAR step ${s}/${steps}: G ${losses.lossG?.toFixed(3) ?? 'frozen'} D ${losses.lossD.toFixed(3)} (${seconds(phase)} s)`);
    }
    const trainSeconds = seconds(phase);

    // 4. The judges and the measures, the same inputs for both generators.
    phase = Date.now();
    const detectorFiles = await loadDetectorModelFiles();
    const faceMesh = new FaceMesh(await loadGraphModelFromBytes(detectorFiles.facemesh, 'facemesh'));
    disposables.push(faceMesh);
    const embedder = await createFaceEmbedder(await loadFaceEmbeddingModelFile({ name: 'faceres' }), FACE_EMBEDDING_MODELS.faceres);
    disposables.push(embedder);
    const heldOutCrops = heldOutSamples.map(sampleToRgba);
    const realFeatures = embedCrops(embedder, heldOutCrops, 16);
    const judges = { embedder, faceMesh, normalEstimator: estimator };
    const config = { count, swaps, seed: 1, kidSubsets: 50, kidSubsetSize: 100 };
    // The floor: FaceMesh on held-out studio crops against their truth landmarks.
    const real = await measureRealSet(realFeatures, judges, config, { crops: heldOutCrops, truthLandmarks: heldOutSamples.map((s) => s.landmarks2d) });
    const results: [string, GeneratorQuality, AppearanceSwap][] = [];
    for (const [name, generator] of [
      ['initial', initial],
      [`trained (${steps} steps)`, trainer.generatorEma],
    ] as const) {
      const quality = await measureGenerator(generator, sampler, realFeatures, judges, config);
      const appearance = appearanceSwap(generator, sampler, estimator, colourSwaps, 2);
      results.push([name, quality, appearance]);
    }
    const measureSeconds = seconds(phase);
    const [[, init, initApp], [trainedName, trained, trainedApp]] = results;

    // 5. Report.
    const out: string[] = [];
    out.push(
      `GAR learning check: tiny preset ${RESOLUTION}², ${steps} steps from seed ${seed} on ${faces} studio crops; ${count} renders, ${swaps} swap triplets per generator`,
    );
    out.push(
      `normal estimator: ${RESOLUTION}² U-Net trained here (${estimatorSteps} steps), ${estimatorError.meanAngleDeg.toFixed(1)}° mean angle on ${heldout} held-out studio crops`,
    );
    out.push(
      `floor (${heldout} held-out studio crops vs their truth): landmark NME inner ${real.landmarks!.nmeInner.toFixed(3)}, all ${real.landmarks!.nmeAll.toFixed(3)}, FaceMesh face score ${real.landmarks!.meanFaceScore.toFixed(2)}, normal angle ${estimatorError.meanAngleDeg.toFixed(1)}°`,
    );
    out.push('');
    const rows: [string, (q: GeneratorQuality, a: AppearanceSwap) => string][] = [
      ['landmark NME, inner 51 (/ IOD)', (q) => q.landmarks.nmeInner.toFixed(3)],
      ['landmark NME, all 68 (/ IOD)', (q) => q.landmarks.nmeAll.toFixed(3)],
      ['FaceMesh face score', (q) => q.landmarks.meanFaceScore.toFixed(2)],
      ['normal angle, degrees', (q) => (q.normalAngleDeg ?? NaN).toFixed(1)],
      ['KID ×10³ (FaceRes, vs held-out crops)', (q) => (q.kid * 1e3).toFixed(0)],
      ['swap: landmarks follow geometry', (q) => `${percent(q.swap!.followsGeometryRate)} of ${swaps}`],
      ['swap: NME to own / other geometry', (q) => `${q.swap!.nmeToOwnGeometry.toFixed(3)} / ${q.swap!.nmeToOtherGeometry.toFixed(3)}`],
      ['swap: normals follow geometry', (_, a) => `${percent(a.normalsFollowRate)} of ${colourSwaps}`],
      ['swap: angle to own / other normals', (_, a) => `${a.angleToOwnDeg.toFixed(1)} / ${a.angleToOtherDeg.toFixed(1)}`],
      ['swap: colour dist same w / other w', (_, a) => `${a.colourSameLatent.toFixed(1)} / ${a.colourOtherLatent.toFixed(1)}`],
      ['swap: latent keeps colours', (_, a) => percent(a.latentKeepsColourRate)],
      ['swap: FaceRes cos same w / same geom', (q) => `${q.swap!.cosineSameLatent.toFixed(3)} / ${q.swap!.cosineSameGeometry.toFixed(3)}`],
      ['latent moves landmarks (NME)', (q) => q.swap!.latentLandmarkShift.toFixed(3)],
    ];
    out.push(`${'measure'.padEnd(40)}${'initial'.padStart(16)}${trainedName.padStart(22)}`);
    for (const [label, cell] of rows) out.push(`${label.padEnd(40)}${cell(init, initApp).padStart(16)}${cell(trained, trainedApp).padStart(22)}`);
    out.push('');

    const required = 1 - margin;
    const verdict = (label: string, before: number, after: number, pass: boolean) =>
      `VERDICT ${label}: trained ${after.toFixed(3)} vs initial ${before.toFixed(3)}, ratio ${(after / before).toFixed(2)} → ${pass ? 'PASS' : 'FAIL'}`;
    const landmarkPass = trained.landmarks.nmeInner < required * init.landmarks.nmeInner;
    const normalPass = trained.normalAngleDeg! < required * init.normalAngleDeg!;
    out.push(
      `${verdict('landmark agreement (NME inner / IOD, lower is better)', init.landmarks.nmeInner, trained.landmarks.nmeInner, landmarkPass)} (needs ratio < ${required.toFixed(2)})`,
    );
    out.push(
      `${verdict('normal agreement (mean angle °, lower is better)', init.normalAngleDeg!, trained.normalAngleDeg!, normalPass)} (needs ratio < ${required.toFixed(2)})`,
    );
    // Shape follows the normal map: the estimated normals of (w, B) lie nearer B's normal map than A's, by a wider
    // margin and more often than at initialisation. (FaceMesh's swap numbers are shown, not judged: an untrained G
    // also scores own < other there, since B's inter-ocular distance, the divisor, differs from A's.)
    const ts = trained.swap!;
    const gap = (x: AppearanceSwap) => x.angleToOtherDeg - x.angleToOwnDeg;
    const shapeFollows = gap(trainedApp) > gap(initApp) && trainedApp.normalsFollowRate > initApp.normalsFollowRate;
    out.push(
      `VERDICT shape follows the normal map (swap A → B, same w): estimated normals to B / A ${trainedApp.angleToOwnDeg.toFixed(1)}° / ${trainedApp.angleToOtherDeg.toFixed(1)}°, closer to B in ${percent(trainedApp.normalsFollowRate)} (initial ${initApp.angleToOwnDeg.toFixed(1)}° / ${initApp.angleToOtherDeg.toFixed(1)}°, ${percent(initApp.normalsFollowRate)}); FaceMesh landmarks NME to B / A ${ts.nmeToOwnGeometry.toFixed(3)} / ${ts.nmeToOtherGeometry.toFixed(3)}, closer to B in ${percent(ts.followsGeometryRate)} (initial ${percent(init.swap!.followsGeometryRate)}) → ${shapeFollows ? 'PASS' : 'FAIL'} (informational)`,
    );
    const keepsAppearance = trainedApp.latentKeepsColourRate >= 0.75 && trainedApp.colourSameLatent < trainedApp.colourOtherLatent;
    out.push(
      `VERDICT w keeps appearance (colour distance same w / other w): trained ${trainedApp.colourSameLatent.toFixed(1)} / ${trainedApp.colourOtherLatent.toFixed(1)}, ratio ${(trainedApp.colourSameLatent / trainedApp.colourOtherLatent).toFixed(2)}, same w closer in ${percent(trainedApp.latentKeepsColourRate)} (initial ${(initApp.colourSameLatent / initApp.colourOtherLatent).toFixed(2)}, ${percent(initApp.latentKeepsColourRate)}: an untrained G ignores geometry) → ${keepsAppearance ? 'PASS' : 'FAIL'} (informational)`,
    );
    out.push(`time: data + normal estimator ${setupSeconds} s, GAR training ${trainSeconds} s, measures ${measureSeconds} s, total ${seconds(started)} s`);
    const pass = landmarkPass && normalPass;
    out.push(
      pass
        ? 'RESULT: PASS — the trained generator agrees with the input geometry better than at initialisation'
        : 'RESULT: FAIL — the trained generator is not clearly better on landmark and normal agreement',
    );
    process.stdout.write(out.join('\n') + '\n');
    if (tf.memory().numTensors > 2000) log(`note: ${tf.memory().numTensors} tensors alive at the end`);
    return pass ? EXIT_CODES.ok : CHECK_FAILED;
  } finally {
    for (const item of disposables) item.dispose();
  }
}

const percent = (x: number) => `${(x * 100).toFixed(0)}%`;

/** An RGB −1…1 sample image as an opaque RGBA crop. */
function sampleToRgba(sample: NormalSample): RgbaImage {
  const pixels = sample.image.length / 3,
    side = Math.round(Math.sqrt(pixels));
  const data = new Uint8ClampedArray(pixels * 4);
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < 3; c++) data[4 * i + c] = Math.round((sample.image[3 * i + c] + 1) * 127.5);
    data[4 * i + 3] = 255;
  }
  return { width: side, height: side, data };
}

/** Studio crops of one stream (seed 0) with their normal maps: rendered once, then read from one float32 file. */
async function cachedSamples(
  cacheDir: string,
  model: Parameters<typeof renderNormalSample>[0],
  stream: NormalSampleStream,
  count: number,
): Promise<NormalSample[]> {
  const plane = RESOLUTION * RESOLUTION * 3,
    per = 2 * plane + 136;
  const path = join(cacheDir, `samples-${stream}-s0-${RESOLUTION}px-${count}.f32`);
  const unpack = (values: Float32Array) =>
    Array.from({ length: count }, (_, i) => ({
      image: values.subarray(i * per, i * per + plane),
      normalMap: values.subarray(i * per + plane, i * per + 2 * plane),
      landmarks2d: values.subarray(i * per + 2 * plane, (i + 1) * per),
    }));
  try {
    const bytes = await readFile(path);
    if (bytes.byteLength === count * per * 4) return unpack(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
  } catch {
    // Not cached yet: render below.
  }
  const values = new Float32Array(count * per),
    phase = Date.now();
  for (let i = 0; i < count; i++) {
    const sample = renderNormalSample(model, stream, 0, i, RESOLUTION);
    values.set(sample.image, i * per);
    values.set(sample.normalMap, i * per + plane);
    values.set(sample.landmarks2d, i * per + 2 * plane);
    if ((i + 1) % 50 === 0 || i + 1 === count) log(`rendering ${stream} crops: ${i + 1}/${count} (${seconds(phase)} s)`);
  }
  await writeFileAtomic(path, new Uint8Array(values.buffer));
  return unpack(values);
}

/** A 32² normal estimator trained for `steps` on `samples` (seed 0), or the one cached in `dir`. */
async function cachedNormalEstimator(dir: string, samples: NormalSample[], steps: number): Promise<NormalEstimator> {
  const kind = { validate: validateNormalEstimatorManifest, name: 'normal-estimator checkpoint', weightsName: 'normal-estimator weights' };
  const saved = await readCheckpointFiles(dir, kind);
  if (saved && saved.manifest.step === steps) return decodeNormalEstimator(saved.manifest, saved.weights);
  const trainer = new NormalEstimatorTrainer({ resolution: RESOLUTION, seed: 0 }, { seed: 0 });
  try {
    const phase = Date.now();
    for (let s = 1; s <= steps; s++) {
      const loss = trainer.trainStep(samples);
      if (s % 200 === 0 || s === steps) log(`normal estimator step ${s}/${steps}: cosine distance ${loss.toFixed(4)} (${seconds(phase)} s)`);
    }
    await makeDirectories(dir);
    await saveCheckpointFiles(
      dir,
      trainer.step,
      (weightsPath) => encodeNormalEstimatorCheckpoint(trainer, weightsPath, { notes: { command: 'scripts/gar-learning-check.ts' } }),
      kind,
    );
    const saved = await readCheckpointFiles(dir, kind);
    return decodeNormalEstimator(saved!.manifest, saved!.weights);
  } finally {
    trainer.dispose();
  }
}

/** Geometry-swap measures read from colours and estimated normals (no FaceMesh): see the file comment. */
interface AppearanceSwap {
  /** Share of triplets where the estimated normals of (w, B) are closer to B's normal map than to A's. */
  normalsFollowRate: number;
  /** Mean angle of (w, B)'s estimated normals to B's and to A's normal map, degrees. */
  angleToOwnDeg: number;
  angleToOtherDeg: number;
  /** Mean distance (0…255 RGB units) between the appearance vectors (face mean, background mean) of (w, A)–(w, B) and of (w, A)–(w', A). */
  colourSameLatent: number;
  colourOtherLatent: number;
  /** Share of triplets where the same latent is the closer. */
  latentKeepsColourRate: number;
}

/**
 * `count` triplets (w, A), (w, B), (w', A), B = A's identity in another pose and expression,
 * from their own seed. Appearance of an image: mean RGB over its face mask (the normal map it was
 * given) and over the rest, 6 numbers in 0…255.
 */
function appearanceSwap(generator: Generator, sampler: GeometrySampler, estimator: NormalEstimator, count: number, seed: number): AppearanceSwap {
  const random = new SeededRandom(seed);
  const zDim = generator.config.zDim;
  const a: SampledGeometry[] = Array.from({ length: count }, () => sampler.sample(random));
  const b: SampledGeometry[] = a.map((g) => {
    const other = sampler.sample(random);
    return { identity: g.identity, expression: other.expression, eulerRad: other.eulerRad, ...sampler.frame(g.identity, other.expression, other.eulerRad) };
  });
  const w = random.normals(count * zDim),
    w2 = random.normals(count * zDim);
  const z = new Float32Array(3 * count * zDim);
  z.set(w, 0);
  z.set(w, count * zDim);
  z.set(w2, 2 * count * zDim);
  const geometries = [...a, ...b, ...a];
  const normals = sampler.renderNormalMaps(geometries);
  const images = tf.tidy(() => generator.generate(normals, tf.tensor2d(z, [3 * count, zDim])));
  const masks = normalMapMask(normals);
  const predicted = tf.tidy(() => estimator.predict(images));
  try {
    const crops = garImagesToRgba(images),
      maskValues = masks.dataSync();
    const appearance = crops.map((crop, k) => appearanceVector(crop, maskValues.subarray(k * crop.width * crop.height, (k + 1) * crop.width * crop.height)));
    const result: AppearanceSwap = {
      normalsFollowRate: 0,
      angleToOwnDeg: 0,
      angleToOtherDeg: 0,
      colourSameLatent: 0,
      colourOtherLatent: 0,
      latentKeepsColourRate: 0,
    };
    for (let k = 0; k < count; k++) {
      const predictedB = tf.slice(predicted, [count + k, 0, 0, 0], [1, -1, -1, -1]);
      const normalA = tf.slice(normals, [k, 0, 0, 0], [1, -1, -1, -1]),
        normalB = tf.slice(normals, [count + k, 0, 0, 0], [1, -1, -1, -1]);
      const toOwn = meanNormalAngleDeg(predictedB, normalB),
        toOther = meanNormalAngleDeg(predictedB, normalA);
      tf.dispose([predictedB, normalA, normalB]);
      const same = distance(appearance[k], appearance[count + k]),
        other = distance(appearance[k], appearance[2 * count + k]);
      result.angleToOwnDeg += toOwn / count;
      result.angleToOtherDeg += toOther / count;
      result.normalsFollowRate += (toOwn < toOther ? 1 : 0) / count;
      result.colourSameLatent += same / count;
      result.colourOtherLatent += other / count;
      result.latentKeepsColourRate += (same < other ? 1 : 0) / count;
    }
    return result;
  } finally {
    tf.dispose([normals, images, masks, predicted]);
  }
}

/** [face R, G, B, background R, G, B] means, 0…255. */
function appearanceVector(crop: RgbaImage, mask: Float32Array | Int32Array | Uint8Array): number[] {
  const sums = [0, 0, 0, 0, 0, 0],
    counts = [0, 0];
  for (let i = 0; i < crop.width * crop.height; i++) {
    const region = mask[i] > 0.5 ? 0 : 1;
    counts[region]++;
    for (let c = 0; c < 3; c++) sums[3 * region + c] += crop.data[4 * i + c];
  }
  return sums.map((s, j) => s / Math.max(1, counts[j < 3 ? 0 : 1]));
}

function distance(p: number[], q: number[]): number {
  return Math.sqrt(p.reduce((s, v, i) => s + (v - q[i]) ** 2, 0));
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof FacegarError) {
    process.stderr.write(`gar-check: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(
      `gar-check: internal error: ${String((error as Error)?.stack ?? error)
        .split('\n')
        .slice(0, 4)
        .join(' | ')
        .slice(0, 600)}\n`,
    );
    process.exitCode = EXIT_CODES.internal;
  }
}
