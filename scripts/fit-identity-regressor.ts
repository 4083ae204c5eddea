/**
 * Fit the identity regressor (src/invert/identity-regressor.ts) on renders with known identity:
 * folders in the synthetic-set layout (`scripts/render-cycles-set.py` writes Blender Cycles ones)
 * and studio renders made here (`--studio SEED:COUNT`, scene seeds benchmarkSceneSeed(SEED, i);
 * the benchmark's own test stream is seed 1, so train on others). For each photo: the detector's
 * largest face, the FaceRes embedding of its aligned crop and FaceMesh's mesh. The ridge weight is
 * chosen on the --holdout folders (the geometric-effect-weighted squared coefficient error: about
 * the mean squared vertex error), and the per-mode error there is stored with the weights. --eval
 * folders get the identity-shape error (the identity alone, no expression, after similarity
 * alignment, median over the 9,409 face-area vertices) beside the mean face's, and the per-mode
 * correlation with the truth.
 *
 *   node --import tsx scripts/fit-identity-regressor.ts --train DIR[,DIR] [--studio SEED:COUNT[,…]]
 *     --holdout DIR[,DIR] | --holdout-studio SEED:COUNT [--eval DIR[,DIR]] [--eval-studio SEED:COUNT] [--cache FILE.jsonl] [--lambdas 1000,3000,10000,30000] [--out DIR]
 *
 * --same-person DIR adds real photos without 3D truth, named like LFW's (Person_Name_0001.jpg): the
 * fit also asks that one person's photos map to one identity (IdentityInvariance), with each weight
 * of --same-person-weights. People in --exclude FILE (the held-out list, data/heldout-real-faces.txt)
 * are never used for fitting: their photos measure how far apart one person's regressed identities
 * lie against other people's (1 = it says nothing about who it is). An eighth of the other people
 * (by a hash of the name) are kept for choosing the weight: the one with the lowest such ratio there
 * among those whose held-out render error is within --render-tolerance of the lowest.
 *
 *   … --same-person FACES/lfw --exclude data/heldout-real-faces.txt --same-person-weights 0,0.3,1,3 [--max-per-person 6]
 *
 * --cache keeps each photo's embedding (and its mirrored crop's) and mesh (one JSON line per photo,
 * keyed by folder and name), so refitting is quick. --embedding mirror-average (the default) fits on
 * the mean of the two embeddings (the pipeline then embeds both crops too), --embedding crop on the
 * crop's alone (version 1). --embedding-size 224 (the default) runs FaceRes at its training size (a
 * version-3 file); 112 as versions 1 and 2 did. A cache holds one size.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { mirrorImage, type RgbaImage } from '../src/common/image.ts';
import { alignFaceCrop } from '../src/detect/align-face-crop.ts';
import { createFaceEmbedder, FACE_EMBEDDING_MODELS, type FaceEmbedder } from '../src/detect/face-embedding.ts';
import { createFaceDetector, type FaceDetector } from '../src/detect/index.ts';
import { initBackend } from '../src/engine/backend.ts';
import { identityModeSquaredEffects, pearsonCorrelation, modesByGeometricEffect, samePersonStatistics } from '../src/eval/identity-metrics.ts';
import { alignedVertexErrorsMm, benchmarkSceneSeed } from '../src/eval/synthetic-benchmark.ts';
import {
  EMBEDDING_CROP_PX,
  encodeIdentityRegressor,
  FULL_EMBEDDING_INPUT_PX,
  identityRegressorVersion,
  featureCount,
  fitIdentityRegressor,
  identityFeatures,
  type IdentityInvariance,
  meanAlignedMesh,
  MESH_VALUE_COUNT,
  regressIdentity,
  type IdentityRegressor,
} from '../src/invert/identity-regressor.ts';
import { decodeImageFile } from '../src/io/node/decode-image.ts';
import { loadDetectorModelFiles } from '../src/io/node/detector-models.ts';
import { loadFaceEmbeddingModelFile } from '../src/io/node/face-embedding-model.ts';
import { loadMorphableModel } from '../src/io/node/index.ts';
import { evaluateMorphableModel, type MorphableModel } from '../src/morphable/morphable-model.ts';
import { quantile } from '../src/eval/error-statistics.ts';
import { sampleStudioScene } from '../src/shading/studio-scene.ts';
import { renderStudioPhoto } from '../src/shading/studio-renderer.ts';
import { readKeyedCache } from './keyed-cache.ts';

const FACE_AREA_VERTICES = 9409;

interface Sample {
  key: string;
  identity: number[];
  embedding: number[];
  /** The embedding of the mirrored crop (--embedding mirror-average). */
  embeddingMirrored?: number[];
  mesh: number[];
  /** The side FaceRes ran at (absent in caches from before --embedding-size: 112). */
  embeddingInputPx?: number;
}

const { values } = parseArgs({
  options: {
    train: { type: 'string', default: '' },
    studio: { type: 'string', default: '' },
    holdout: { type: 'string', default: '' },
    'holdout-studio': { type: 'string', default: '' },
    eval: { type: 'string', default: '' },
    'eval-studio': { type: 'string', default: '' },
    cache: { type: 'string' },
    lambdas: { type: 'string', default: '1000,3000,10000,30000,100000' },
    /** crop: the crop's embedding (a version-1 file); mirror-average: its mean with the mirrored crop's (version 2, the default). */
    embedding: { type: 'string', default: 'mirror-average' },
    /** Side FaceRes runs at: 224 (its training size; a version-3 file, mirror-average only; the default) or 112 (versions 1 and 2). */
    'embedding-size': { type: 'string', default: '224' },
    out: { type: 'string' },
    'same-person': { type: 'string', default: '' },
    exclude: { type: 'string', default: '' },
    'max-per-person': { type: 'string', default: '6' },
    'same-person-weights': { type: 'string', default: '0' },
    'render-tolerance': { type: 'string', default: '0.02' },
  },
});
if (values.embedding !== 'crop' && values.embedding !== 'mirror-average') throw new Error(`--embedding crop|mirror-average, not ${values.embedding}`);
const mirrorAverage = values.embedding === 'mirror-average';
const embeddingInputPx = Number(values['embedding-size']);
/** FaceRes's size in facegar's embedding spec, which versions 1 and 2 ran at. */
const SPEC_INPUT_PX = FACE_EMBEDDING_MODELS.faceres.inputSize;
if (embeddingInputPx !== SPEC_INPUT_PX && embeddingInputPx !== FULL_EMBEDDING_INPUT_PX)
  throw new Error(`--embedding-size ${SPEC_INPUT_PX}|${FULL_EMBEDDING_INPUT_PX}, not ${values['embedding-size']}`);
if (embeddingInputPx === FULL_EMBEDDING_INPUT_PX && !mirrorAverage)
  throw new Error(`--embedding-size ${FULL_EMBEDDING_INPUT_PX} needs --embedding mirror-average`);
if (!values.holdout && !values['holdout-studio'])
  throw new Error('--holdout DIR[,DIR] or --holdout-studio SEED:COUNT is needed (the ridge weight and the stored errors come from it)');
await initBackend({ backend: 'wasm' });
const { model } = await loadMorphableModel();
const detector = await createFaceDetector(await loadDetectorModelFiles());
const embedder = await createFaceEmbedder(await loadFaceEmbeddingModelFile(), { ...FACE_EMBEDDING_MODELS.faceres, inputSize: embeddingInputPx });
const cached = await readKeyedCache<Sample>(values.cache);

async function sampleOf(key: string, identity: ArrayLike<number>, image: () => Promise<RgbaImage>, faceDetector: FaceDetector, faceEmbedder: FaceEmbedder) {
  if (cached.has(key)) {
    const known = cached.get(key)!;
    // Embeddings at another size are other features: a cache must not mix them.
    if (known && (known.embeddingInputPx ?? SPEC_INPUT_PX) !== embeddingInputPx)
      throw new Error(
        `${values.cache}: ${key} was embedded at ${known.embeddingInputPx ?? SPEC_INPUT_PX}², not --embedding-size ${embeddingInputPx}; use another --cache`,
      );
    return known;
  }
  const photo = await image();
  const face = (await faceDetector.detect(photo))[0];
  const round = (a: ArrayLike<number>, digits: number) => Array.from(a, (v) => Number(v.toFixed(digits)));
  const crop = face && alignFaceCrop(photo, face.landmarks68, EMBEDDING_CROP_PX).crop;
  const embeddings = crop ? faceEmbedder.embedImages([crop, mirrorImage(crop)]) : [];
  const sample: Sample | null = face
    ? {
        key,
        identity: round(identity, 5),
        embedding: round(embeddings[0], 6),
        embeddingMirrored: round(embeddings[1], 6),
        embeddingInputPx,
        mesh: round(face.mesh468, 3),
      }
    : null;
  cached.set(key, sample);
  if (values.cache) await appendFile(values.cache, JSON.stringify(sample ?? { key, missed: true }) + '\n');
  return sample;
}

/** The embedding the fit uses, per --embedding. */
function embeddingOf(sample: Sample): number[] {
  if (values.embedding === 'crop') return sample.embedding;
  if (!sample.embeddingMirrored) throw new Error(`${sample.key}: cached without the mirrored crop's embedding; remove it from the cache`);
  return sample.embedding.map((v, i) => (v + sample.embeddingMirrored![i]) / 2);
}

async function folderSamples(dir: string): Promise<Sample[]> {
  const names = (await readdir(dir)).filter((n) => /^\d+\.json$/.test(n)).sort();
  const out: Sample[] = [];
  for (const [index, name] of names.entries()) {
    const truth = JSON.parse(await readFile(join(dir, name), 'utf8')) as { image: string; identity: number[] };
    if (typeof truth.image !== 'string' || basename(truth.image) !== truth.image || !Array.isArray(truth.identity))
      throw new Error(`${join(dir, name)}: not a synthetic-set face (image file name and identity array needed)`);
    const sample = await sampleOf(`${basename(dir)}/${name}`, truth.identity, () => decodeImageFile(join(dir, truth.image)), detector, embedder);
    if (sample) out.push(sample);
    if ((index + 1) % 100 === 0) console.error(`${dir}: ${index + 1} of ${names.length}`);
  }
  return out;
}

async function studioSamples(spec: string): Promise<Sample[]> {
  const [seed, count] = spec.split(':').map(Number);
  if (!Number.isInteger(seed) || !Number.isInteger(count) || count < 1) throw new Error(`--studio wants SEED:COUNT, not ${spec}`);
  const out: Sample[] = [];
  for (let i = 0; i < count; i++) {
    const scene = sampleStudioScene(model, benchmarkSceneSeed(seed, i));
    const render = () => Promise.resolve(renderStudioPhoto(model, scene).image);
    const sample = await sampleOf(`studio-${seed}/${i}`, scene.identity, render, detector, embedder);
    if (sample) out.push(sample);
    if ((i + 1) % 200 === 0) console.error(`studio ${seed}: ${i + 1} of ${count}`);
  }
  return out;
}

async function gather(list: string, studio = ''): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const dir of list.split(',').filter(Boolean)) out.push(...(await folderSamples(dir)));
  for (const spec of studio.split(',').filter(Boolean)) out.push(...(await studioSamples(spec)));
  return out;
}

/** Real photos of people (no 3D truth), grouped by person: for fitting, for choosing the weight, and held out. */
interface SamePersonSets {
  fitting: Sample[][];
  choosing: Sample[][];
  heldOut: Sample[][];
}

async function samePersonSets(dir: string, excludeFile: string, maxPerPerson: number): Promise<SamePersonSets> {
  const personOf = (file: string) => file.replace(/_\d{4}\.(jpe?g|png)$/i, '');
  const excluded = new Set<string>();
  if (excludeFile)
    for (const line of (await readFile(excludeFile, 'utf8')).split('\n')) if (line && !line.startsWith('#')) excluded.add(personOf(basename(line.trim())));
  const byPerson = new Map<string, string[]>();
  for (const file of (await readdir(dir)).filter((f) => /_\d{4}\.(jpe?g|png)$/i.test(f)).sort())
    byPerson.set(personOf(file), [...(byPerson.get(personOf(file)) ?? []), file]);
  const sets: SamePersonSets = { fitting: [], choosing: [], heldOut: [] };
  const people = [...byPerson].filter(([, files]) => files.length >= 2);
  for (const [index, [person, files]] of people.entries()) {
    const group: Sample[] = [];
    for (const file of files.slice(0, maxPerPerson)) {
      const sample = await sampleOf(`same-person/${basename(dir)}/${file}`, [], () => decodeImageFile(join(dir, file)), detector, embedder);
      if (sample) group.push(sample);
    }
    if (group.length < 2) continue;
    if (excluded.has(person)) sets.heldOut.push(group);
    else if (createHash('sha256').update(`choose:${person}`).digest()[0] < 32) sets.choosing.push(group);
    else sets.fitting.push(group);
    if ((index + 1) % 100 === 0) console.error(`${dir}: ${index + 1} of ${people.length} people`);
  }
  return sets;
}

/** Each photo's raw features minus its person's mean: the rows of the invariance term. */
function invarianceOf(groups: Sample[][], reference: Float32Array, weight: number): IdentityInvariance | undefined {
  if (weight === 0 || groups.length === 0) return undefined;
  const F = featureCount(groups[0][0].embedding.length);
  const rows = groups.reduce((n, g) => n + g.length, 0);
  const differences = new Float32Array(rows * F);
  let row = 0;
  for (const group of groups) {
    const features = group.map((s) => identityFeatures(embeddingOf(s), s.mesh, reference));
    const mean = new Float64Array(F);
    for (const f of features) for (let i = 0; i < F; i++) mean[i] += f[i] / group.length;
    for (const f of features)
      differences.set(
        Float32Array.from(f, (v, i) => v - mean[i]),
        row++ * F,
      );
  }
  return { differences, rows, weight };
}

/**
 * How far apart one person's regressed identities lie against other people's (the identity
 * modes' geometric effect weights the coefficient differences: about the RMS vertex distance),
 * and how often a photo's nearest other photo is its person's.
 */
function samePersonAgreement(regressor: IdentityRegressor, groups: Sample[][], effects: Float64Array) {
  const photos = groups.flatMap((group, person) => group.map((s) => ({ person, identity: regressIdentity(regressor, embeddingOf(s), s.mesh) })));
  const distance = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((sum, v, k) => sum + effects[k] * (v - b[k]) ** 2, 0) / FACE_AREA_VERTICES);
  const statistics = samePersonStatistics(
    photos.map((p) => p.person),
    (i, j) => distance(photos[i].identity, photos[j].identity),
  );
  return {
    people: groups.length,
    photos: photos.length,
    samePersonOverOtherDistance: Number(statistics.ratio.toFixed(3)),
    nearestIsSamePerson: Number(statistics.nearestIsSamePerson.toFixed(3)),
    chance: Number(statistics.chance.toFixed(3)),
  };
}

function fit(samples: Sample[], reference: Float32Array, lambda: number, invariance?: IdentityInvariance): IdentityRegressor {
  const D = samples[0].embedding.length,
    F = featureCount(D),
    K = samples[0].identity.length;
  const features = new Float32Array(samples.length * F),
    identities = new Float32Array(samples.length * K);
  samples.forEach((s, n) => {
    features.set(identityFeatures(embeddingOf(s), s.mesh, reference), n * F);
    identities.set(s.identity, n * K);
  });
  return {
    ...fitIdentityRegressor(features, identities, samples.length, D, reference, lambda, invariance),
    mirrorAverage,
    ...(embeddingInputPx === FULL_EMBEDDING_INPUT_PX ? { embeddingInputPx } : {}),
  };
}

/** Squared coefficient errors per mode, averaged over the samples. */
function modeSquaredErrors(regressor: IdentityRegressor, samples: Sample[]): Float64Array {
  const sums = new Float64Array(regressor.identityCount);
  for (const s of samples) regressIdentity(regressor, embeddingOf(s), s.mesh).forEach((p, k) => (sums[k] += (p - s.identity[k]) ** 2 / samples.length));
  return sums;
}

function evaluate(regressor: IdentityRegressor, samples: Sample[]) {
  let error = 0,
    meanFaceError = 0;
  const predicted = samples.map((s) => regressIdentity(regressor, embeddingOf(s), s.mesh));
  const noExpression = new Float32Array(model.expressionNames.length);
  const identityShape = (identity: ArrayLike<number>) => evaluateMorphableModel(model, identity, noExpression);
  const median = (errors: Float64Array) => quantile(errors.sort(), 0.5);
  samples.forEach((s, n) => {
    const truth = identityShape(s.identity);
    error += median(alignedVertexErrorsMm(identityShape(predicted[n]), truth, FACE_AREA_VERTICES)) / samples.length;
    meanFaceError += median(alignedVertexErrorsMm(identityShape(new Float32Array(model.identityCount)), truth, FACE_AREA_VERTICES)) / samples.length;
  });
  const top20 = modesByGeometricEffect(model, FACE_AREA_VERTICES).slice(0, 20);
  const r = (modes: number[]) =>
    modes.reduce(
      (sum, k) =>
        sum +
        pearsonCorrelation(
          predicted.map((p) => p[k]),
          samples.map((s) => s.identity[k]),
        ),
      0,
    ) / modes.length;
  return {
    photos: samples.length,
    identityShapeMm: Number(error.toFixed(3)),
    meanFaceMm: Number(meanFaceError.toFixed(3)),
    ratioToMeanFace: Number((error / meanFaceError).toFixed(3)),
    identityCorrelation: Number(r([...Array(model.identityCount).keys()]).toFixed(3)),
    identityCorrelationTop20: Number(r(top20).toFixed(3)),
  };
}

const train = await gather(values.train!, values.studio);
const holdout = await gather(values.holdout!, values['holdout-studio']);
if (train.length < 50 || holdout.length < 10) throw new Error(`too few faces: ${train.length} training, ${holdout.length} held out`);
if (train[0].mesh.length !== MESH_VALUE_COUNT) throw new Error('cached meshes are not 468 × 3');
const meshes = new Float32Array(train.length * MESH_VALUE_COUNT);
train.forEach((s, n) => meshes.set(s.mesh, n * MESH_VALUE_COUNT));
const reference = meanAlignedMesh(meshes, train.length);
const effects = identityModeSquaredEffects(model, FACE_AREA_VERTICES);
const samePersonWeights = values['same-person-weights']!.split(',').map(Number);
if (samePersonWeights.some((w) => !(w >= 0))) throw new Error(`--same-person-weights wants numbers ≥ 0, not ${values['same-person-weights']}`);
const renderTolerance = Number(values['render-tolerance']);
const maxPerPerson = Number(values['max-per-person']);
if (!Number.isInteger(maxPerPerson) || maxPerPerson < 2) throw new Error(`--max-per-person wants an integer ≥ 2, not ${values['max-per-person']}`);
const real = values['same-person'] ? await samePersonSets(values['same-person'], values.exclude!, maxPerPerson) : undefined;
if (real) console.error(`same-person photos: ${real.fitting.length} people fit, ${real.choosing.length} choose the weight, ${real.heldOut.length} held out`);
interface Tried {
  lambda: number;
  samePersonWeight: number;
  weightedError: number;
  regressor: IdentityRegressor;
  errors: Float64Array;
  choosing?: ReturnType<typeof samePersonAgreement>;
}
const tried: Tried[] = [];
for (const samePersonWeight of real ? samePersonWeights : [0]) {
  const invariance = real && invarianceOf(real.fitting, reference, samePersonWeight);
  const byLambda: Tried[] = [];
  for (const lambda of values.lambdas!.split(',').map(Number)) {
    const regressor = fit(train, reference, lambda, invariance);
    const errors = modeSquaredErrors(regressor, holdout);
    // Σ_k error_k² · ‖basis_k‖² over the face area, per vertex: the mean squared vertex error, were the modes' errors independent.
    const weightedError = errors.reduce((sum, e, k) => sum + (e * effects[k]) / FACE_AREA_VERTICES, 0);
    console.error(
      `lambda ${lambda}${real ? `, same-person weight ${samePersonWeight}` : ''}: mean squared vertex error ${weightedError.toFixed(2)} mm² (unaligned) on ${holdout.length} held-out faces`,
    );
    byLambda.push({ lambda, samePersonWeight, weightedError, regressor, errors });
  }
  const bestLambda = byLambda.reduce((a, b) => (b.weightedError < a.weightedError ? b : a));
  if (real) {
    bestLambda.choosing = samePersonAgreement(bestLambda.regressor, real.choosing, effects);
    console.error(`  same-person weight ${samePersonWeight}, lambda ${bestLambda.lambda}: ${JSON.stringify(bestLambda.choosing)}`);
  }
  tried.push(bestLambda);
}
const lowestError = Math.min(...tried.map((t) => t.weightedError));
const best = tried
  .filter((t) => t.weightedError <= lowestError * (1 + renderTolerance))
  .reduce((a, b) => ((b.choosing?.samePersonOverOtherDistance ?? Infinity) < (a.choosing?.samePersonOverOtherDistance ?? Infinity) ? b : a));
const regressor = { ...best.regressor, errorStd: Float32Array.from(best.errors, (e) => Math.sqrt(e)) };
const report: Record<string, unknown> = {
  trainingFaces: train.length,
  heldOutFaces: holdout.length,
  lambda: best.lambda,
  holdout: evaluate(regressor, holdout),
  eval: {},
};
if (real) {
  report.samePersonWeight = best.samePersonWeight;
  report.samePersonFitting = { people: real.fitting.length, photos: real.fitting.reduce((n, g) => n + g.length, 0) };
  report.samePersonTried = tried.map((t) => ({
    samePersonWeight: t.samePersonWeight,
    lambda: t.lambda,
    heldOutRenderError: Number(t.weightedError.toFixed(3)),
    choosing: t.choosing,
  }));
  if (real.heldOut.length >= 2) report.samePersonHeldOut = samePersonAgreement(regressor, real.heldOut, effects);
}
for (const dir of values.eval!.split(',').filter(Boolean))
  (report.eval as Record<string, unknown>)[basename(dir)] = evaluate(regressor, await folderSamples(dir));
for (const spec of values['eval-studio']!.split(',').filter(Boolean))
  (report.eval as Record<string, unknown>)[`studio ${spec}`] = evaluate(regressor, await studioSamples(spec));
if (values.out) {
  await mkdir(values.out, { recursive: true });
  const bytes = encodeIdentityRegressor(regressor);
  await writeFile(join(values.out, 'identity-regressor.bin'), bytes);
  const manifest = {
    format: `facegar-identity-regressor-${identityRegressorVersion(regressor)}`,
    embedding: 'faceres',
    embeddingCropPx: EMBEDDING_CROP_PX,
    embeddingInputPx,
    features: `FaceRes embedding of the detector's aligned crop${mirrorAverage ? " (the mean of the crop's and its mirror image's)" : ''}, then FaceMesh's 468 points similarity-aligned to the reference, minus it`,
    outputs: `${regressor.identityCount} ICT-FaceKit identity coefficients`,
    lambda: best.lambda,
    ...(real && best.samePersonWeight > 0
      ? {
          samePersonWeight: best.samePersonWeight,
          samePersonPhotos: `${basename(values['same-person']!)}: ${(report.samePersonFitting as { photos: number }).photos} photos of ${real.fitting.length} people (no 3D truth; one identity per person asked)`,
        }
      : {}),
    trainingFaces: train.length,
    trainingSources: [
      ...values
        .train!.split(',')
        .filter(Boolean)
        .map((dir) => basename(dir)),
      ...values
        .studio!.split(',')
        .filter(Boolean)
        .map((s) => `studio ${s}`),
    ],
    heldOut: [
      ...values
        .holdout!.split(',')
        .filter(Boolean)
        .map((dir) => basename(dir)),
      ...values['holdout-studio']!.split(',')
        .filter(Boolean)
        .map((s) => `studio ${s}`),
    ],
    report,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  await writeFile(join(values.out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}
detector.dispose();
embedder.dispose();
console.log(JSON.stringify(report, null, 1));
