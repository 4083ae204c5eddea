/**
 * Experiment (not shipped): a linear "landmark head" on the shape encoder's trunk, fitted by ridge
 * regression on renders with exact landmarks, for the faces the GAR path's gate hands to the shape
 * encoder (turned 45° or more). Inputs: the trunk's features of the crop the GAR path cuts (the
 * landmark map's points frame it from 25° of FaceMesh's yaw), the 68 model landmarks the encoder's
 * estimate implies and the map's 68 points, all in that crop; target: the correction from the
 * implied points to the true ones. Folders in the synthetic-set layout (`scripts/render-cycles-set.py`)
 * or AFLW2000-3D's (`facegar eval aflw2000 --write-synthetic`). The ridge weight is chosen on the
 * --tune folders by the NME of the faces turned 45° or more; every --tune and --eval folder gets the
 * NME (% of the true box) by |yaw| of the implied points, the map's, their mean (what the fit follows
 * today) and the head's. docs/tuning.md ("Shape encoder landmark head") has the result: it learns
 * the renderer, not the face.
 *
 *   node --import tsx scripts/experiments/landmark-head.ts --train DIR[,DIR] --tune DIR[,DIR] [--eval DIR[,DIR]]
 *     [--shape-encoder DIR] [--lambdas 100,300,1000] [--cache FILE.jsonl] [--train-landmark-map FILE]
 *
 * --train-landmark-map reads the --train photos through another landmark map (one fitted without
 * them, scripts/fit-mesh-landmark-map.ts): the shipped map has seen its own training renders, and
 * its points there are better than on photos it has not seen. --cache keeps each photo's inputs
 * (one JSON line per photo, keyed by map, folder name and photo).
 */
import { appendFile, readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { estimateFromLandmarks, estimateLandmarks, mappedLandmarks } from '../../src/api/landmark-source.ts';
import { applyAffine2D, type RgbaImage } from '../../src/common/image.ts';
import { alignFaceCrop } from '../../src/detect/align-face-crop.ts';
import { createFaceDetector } from '../../src/detect/index.ts';
import { fitRidge } from '../../src/detect/mesh-landmark-map.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { aflwGroundTruth, aflwYawBucket, landmarkBoxSize } from '../../src/eval/aflw2000-protocol.ts';
import { decodeFaceEncoder, validateEncoderCheckpointManifest } from '../../src/invert/encoder-checkpoint.ts';
import { imageToGarTensor } from '../../src/invert/render-through-gar.ts';
import { readCheckpointFiles } from '../../src/io/node/checkpoint-files.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { shippedModelsDir } from '../../src/io/node/gar-models.ts';
import { loadMorphableModel } from '../../src/io/node/index.ts';
import { parseMatFile } from '../../src/io/mat-file.ts';
import { syntheticSetSource } from '../../src/io/node/synthetic-set-files.ts';
import { readKeyedCache } from '../keyed-cache.ts';

const { values } = parseArgs({
  options: {
    train: { type: 'string' },
    tune: { type: 'string' },
    eval: { type: 'string' },
    'shape-encoder': { type: 'string' },
    lambdas: { type: 'string', default: '100,300,1000' },
    'train-landmark-map': { type: 'string' },
    cache: { type: 'string' },
  },
});
if (!values.train || !values.tune) {
  process.stderr.write(
    'usage: node --import tsx scripts/experiments/landmark-head.ts --train DIR[,DIR] --tune DIR[,DIR] [--eval DIR[,DIR]] [--lambdas L,…] [--cache F]\n',
  );
  process.exit(2);
}
const lambdas = values.lambdas!.split(',').map(Number);
if (!lambdas.every((l) => l > 0)) throw new Error(`--lambdas: positive numbers, not ${values.lambdas}`);

/** One photo's inputs and target, crop px. */
interface Sample {
  key: string;
  yawDeg: number;
  /** Synthetic-set layout only (facegar's Euler convention): the true pitch and the encoder's, degrees. */
  pitchDeg?: number;
  encoderPitchDeg?: number;
  /** FaceMesh's face score. */
  meshScore?: number;
  /** The implied points after cutting the crop again around the previous pass's implied points, 1–3 times (crop px of the first crop). */
  recropped?: number[][];
  trunk: number[];
  implied: number[];
  detector: number[];
  truth: number[];
}

await initBackend({ backend: 'wasm' });
const { model } = await loadMorphableModel();
const encoderDir = resolve(values['shape-encoder'] ?? join(shippedModelsDir(), 'shape-encoder-128'));
const files = await readCheckpointFiles(encoderDir, {
  validate: (v) => validateEncoderCheckpointManifest(v),
  name: 'encoder checkpoint',
  weightsName: 'encoder weights',
});
if (!files) throw new Error(`${encoderDir}: no shape encoder checkpoint`);
const encoder = decodeFaceEncoder(files.manifest, files.weights);
const sizePx = encoder.config.resolution;
const detector = await createFaceDetector(await loadDetectorModelFiles());
// The shipped map was fitted on renders: on those, its points are better than on any photo it has
// not seen, and a head trained there would learn to trust them too much.
const trainMap = values['train-landmark-map'];
const trainDetector = trainMap ? await createFaceDetector(await loadDetectorModelFiles({ landmarkMap: resolve(trainMap) })) : detector;

const cached = await readKeyedCache<Sample>(values.cache);

/** A folder's photos with their true 68 points (image px) and yaw, in either layout. */
async function folderPhotos(
  dir: string,
): Promise<{ name: string; load: () => Promise<{ image: RgbaImage; truth: ArrayLike<number>; yawDeg: number; pitchDeg?: number }> }[]> {
  const names = await readdir(dir);
  if (names.some((n) => n.endsWith('.mat')))
    return names
      .filter((n) => n.endsWith('.mat'))
      .sort()
      .map((n) => ({
        name: n.slice(0, -4),
        load: async () => {
          const truth = aflwGroundTruth(await parseMatFile(new Uint8Array(await readFile(join(dir, n)))));
          return { image: await decodeImageFile(join(dir, `${n.slice(0, -4)}.jpg`)), truth: truth.landmarks2d, yawDeg: truth.yawDeg };
        },
      }));
  const source = await syntheticSetSource(dir, model);
  return source.stems.map((stem, index) => ({
    name: stem,
    load: async () => {
      const face = await source.face(index);
      return { image: face.image, truth: face.truth.landmarks2d, yawDeg: face.truth.anglesDeg[1], pitchDeg: face.truth.anglesDeg[0] };
    },
  }));
}

async function sampleOf(
  key: string,
  image: RgbaImage,
  truth: ArrayLike<number>,
  yawDeg: number,
  pitchDeg: number | undefined,
  faceDetector: typeof detector,
  scored: boolean,
): Promise<Sample | null> {
  const face = (await faceDetector.detect(image))[0];
  if (!face) return null;
  const evidence = mappedLandmarks(face) ?? face.landmarks68;
  // The crop estimateFromLandmarks cuts (opaque black outside the photo), and the trunk's features of it.
  const { crop, cropFromImage } = alignFaceCrop(image, evidence, sizePx);
  for (let i = 3; i < crop.data.length; i += 4) crop.data[i] = 255;
  const crops = imageToGarTensor(crop);
  const trunk = tf.tidy(() => encoder.trunk.apply(crops));
  const trunkFeatures = (await trunk.data()) as Float32Array;
  trunk.dispose();
  const estimate = encoder.estimate(crops)[0];
  crops.dispose();
  const implied = estimateLandmarks(model, estimate, cropFromImage, sizePx, image, model.landmarkVertexIndices);
  const toCrop = (points: ArrayLike<number>) => {
    const out: number[] = [];
    for (let k = 0; k < 68; k++) out.push(...applyAffine2D(cropFromImage, points[2 * k], points[2 * k + 1]));
    return out;
  };
  const pitch = pitchDeg === undefined ? {} : { pitchDeg, encoderPitchDeg: (estimate.pose.eulerRad[0] * 180) / Math.PI };
  // What landmarkGate.cropRefinements does: estimate again on the crop the implied points cut
  // (three encoder passes more, so only for the photos it is reported on).
  const recropped: number[][] = [];
  for (let pass = 0, points = implied; scored && pass < 3; pass++) {
    const again = estimateFromLandmarks(encoder, image, points);
    points = estimateLandmarks(model, again.estimate, again.cropFromImage, sizePx, image, model.landmarkVertexIndices);
    recropped.push(toCrop(points));
  }
  return {
    key,
    yawDeg,
    ...pitch,
    meshScore: face.meshScore,
    ...(scored ? { recropped } : {}),
    trunk: Array.from(trunkFeatures),
    implied: toCrop(implied),
    detector: toCrop(evidence),
    truth: toCrop(truth),
  };
}

async function gather(list: string, training = false): Promise<Sample[]> {
  const faceDetector = training ? trainDetector : detector;
  const mapName = training && trainMap ? `${basename(resolve(trainMap))}:` : '';
  const samples: Sample[] = [];
  for (const dir of list.split(',')) {
    const photos = await folderPhotos(resolve(dir));
    let missed = 0;
    for (const [index, photo] of photos.entries()) {
      const key = `${mapName}${basename(resolve(dir))}/${photo.name}`;
      let sample = cached.get(key);
      if (sample === undefined) {
        const { image, truth, yawDeg, pitchDeg } = await photo.load();
        sample = await sampleOf(key, image, truth, yawDeg, pitchDeg, faceDetector, !training);
        cached.set(key, sample);
        if (values.cache) await appendFile(values.cache, JSON.stringify(sample ?? { key, missed: true }) + '\n');
      }
      if (sample) samples.push(sample);
      else missed++;
      if ((index + 1) % 50 === 0 || index + 1 === photos.length)
        process.stderr.write(`\r${basename(dir)}: ${index + 1}/${photos.length}, ${missed} without a face`);
    }
    process.stderr.write('\n');
  }
  return samples;
}

function nmePercent(points: ArrayLike<number>, truth: ArrayLike<number>): number {
  let sum = 0;
  for (let k = 0; k < 68; k++) sum += Math.hypot(points[2 * k] - truth[2 * k], points[2 * k + 1] - truth[2 * k + 1]);
  return (100 * sum) / 68 / landmarkBoxSize(truth);
}

const TURNED_DEG = 45;
const ROW_BUCKETS = ['0-30', '30-60', '60-90', `≥${TURNED_DEG}`] as const;
/** Mean NME per |yaw| bucket (and over the faces turned 45° or more) of the points `pick` gives. */
function table(samples: Sample[], pick: (s: Sample) => ArrayLike<number>): Record<string, { nme: number; faces: number }> {
  const out: Record<string, { nme: number; faces: number }> = {};
  for (const bucket of ROW_BUCKETS) {
    const inside = samples.filter((s) => (bucket.startsWith('≥') ? Math.abs(s.yawDeg) >= TURNED_DEG : aflwYawBucket(s.yawDeg) === bucket));
    const sum = inside.reduce((total, s) => total + nmePercent(pick(s), s.truth), 0);
    out[bucket] = { nme: inside.length ? sum / inside.length : NaN, faces: inside.length };
  }
  return out;
}
/** A fitted head: per-input mean and scale, and [(F + 1) × 136] weights (standardised inputs, then 1 → correction in crop sides). */
interface Head {
  mean: Float64Array;
  scale: Float64Array;
  weights: Float32Array;
}

/** One photo's inputs: trunk features, then the implied and the map's points as (px / crop side − ½). */
function inputsOf(s: Sample): number[] {
  return [...s.trunk, ...s.implied.map((v) => v / sizePx - 0.5), ...s.detector.map((v) => v / sizePx - 0.5)];
}

function fit(samples: Sample[], lambda: number): Head {
  const rows = samples.length;
  const raw = samples.map(inputsOf);
  const F = raw[0].length;
  const mean = new Float64Array(F),
    scale = new Float64Array(F);
  for (let i = 0; i < F; i++) {
    let sum = 0,
      sumSquares = 0;
    for (const row of raw) {
      sum += row[i];
      sumSquares += row[i] * row[i];
    }
    mean[i] = sum / rows;
    scale[i] = Math.sqrt(Math.max(sumSquares / rows - mean[i] * mean[i], 0)) + 1e-6;
  }
  const standardised = new Float32Array(rows * (F + 1));
  raw.forEach((row, n) => {
    for (let i = 0; i < F; i++) standardised[n * (F + 1) + i] = (row[i] - mean[i]) / scale[i];
    standardised[n * (F + 1) + F] = 1;
  });
  const corrections = Float32Array.from(samples.flatMap((s) => s.truth.map((v, i) => (v - s.implied[i]) / sizePx)));
  return { mean, scale, weights: fitRidge(standardised, corrections, rows, lambda, F) };
}

const predict = (head: Head) => (s: Sample) => {
  const inputs = inputsOf(s);
  const F = inputs.length;
  return s.implied.map((value, t) => {
    let sum = head.weights[F * 136 + t];
    for (let i = 0; i < F; i++) sum += ((inputs[i] - head.mean[i]) / head.scale[i]) * head.weights[i * 136 + t];
    return value + sizePx * sum;
  });
};
const blend = (w: number) => (s: Sample) => s.detector.map((v, i) => v + w * (s.implied[i] - v));
const mean = blend(0.5);

const train = await gather(values.train, true);
const tune = await gather(values.tune);
const evaluations = values.eval ? await Promise.all(values.eval.split(',').map(async (dir) => [basename(resolve(dir)), await gather(dir)] as const)) : [];
process.stderr.write(`${train.length} training photos, ${tune.length} tuning photos\n`);
let best: { lambda: number; head: Head; turned: number } | undefined;
for (const lambda of lambdas) {
  const head = fit(train, lambda);
  const turned = table(tune, predict(head))[`≥${TURNED_DEG}`].nme;
  process.stdout.write(`λ ${lambda}: tuning NME of the faces turned ≥${TURNED_DEG}° ${turned.toFixed(2)} %\n`);
  if (!best || turned < best.turned) best = { lambda, head, turned };
}
const report: Record<string, Record<string, Record<string, { nme: number; faces: number }>>> = {};
for (const [name, samples] of [['tuning', tune] as const, ...evaluations]) {
  report[name] = {
    implied: table(samples, (s) => s.implied),
    map: table(samples, (s) => s.detector),
    'implied and map averaged (the GAR path now)': table(samples, mean),
    // Other shares w of the implied points in map + w (implied − map): the mean is w 0.5.
    ...Object.fromEntries([0.2, 0.35, 0.65].map((w) => [`map + ${w} (implied − map)`, table(samples, blend(w))])),
    head: table(samples, predict(best!.head)),
  };
  process.stdout.write(`\n${name} (${samples.length} photos; NME % by |yaw|, faces)\n`);
  for (const [row, cells] of Object.entries(report[name]))
    process.stdout.write(`  ${row.padEnd(44)} ${ROW_BUCKETS.map((b) => `${b}: ${cells[b].nme.toFixed(2)} (${cells[b].faces})`).join('  ')}\n`);
}
// How well the encoder reads pitch, below and from 45° of yaw: the slope of its pitch on the true one, and their correlation.
for (const [name, samples] of [['tuning', tune] as const, ...evaluations]) {
  for (const turned of [false, true]) {
    const rows = samples.filter((s) => s.pitchDeg !== undefined && Math.abs(s.yawDeg) >= TURNED_DEG === turned);
    if (rows.length < 3) continue;
    const t = rows.map((s) => s.pitchDeg!),
      e = rows.map((s) => s.encoderPitchDeg!);
    const average = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const [mt, me] = [average(t), average(e)];
    const cov = average(t.map((v, i) => (v - mt) * (e[i] - me))),
      vt = average(t.map((v) => (v - mt) ** 2)),
      ve = average(e.map((v) => (v - me) ** 2));
    process.stdout.write(
      `${name}, ${turned ? `≥${TURNED_DEG}` : `<${TURNED_DEG}`}° of yaw (${rows.length} photos): encoder pitch on true pitch, slope ${(cov / vt).toFixed(2)}, correlation ${(cov / Math.sqrt(vt * ve)).toFixed(2)}\n`,
    );
  }
}
// Cutting the crop again around the encoder's own points (cropRefinements), and the faces FaceMesh scores below 0.5.
for (const [name, samples] of [['tuning', tune] as const, ...evaluations]) {
  const turned = samples.filter((s) => Math.abs(s.yawDeg) >= TURNED_DEG && s.recropped && s.meshScore !== undefined);
  if (turned.length === 0) continue;
  const meanNme = (rows: Sample[], pick: (s: Sample) => ArrayLike<number>) => rows.reduce((sum, s) => sum + nmePercent(pick(s), s.truth), 0) / rows.length;
  const passes = [0, 1, 2, 3].map((k) => meanNme(turned, (s) => (k === 0 ? s.implied : s.recropped![k - 1])).toFixed(2));
  process.stdout.write(`${name}, turned ≥${TURNED_DEG}° (${turned.length}): implied points after 0–3 re-crops ${passes.join(' / ')} %\n`);
  for (const low of [true, false]) {
    const rows = turned.filter((s) => s.meshScore! < 0.5 === low);
    if (rows.length === 0) continue;
    process.stdout.write(
      `  FaceMesh score ${low ? '< 0.5' : '≥ 0.5'} (${rows.length}): map ${meanNme(rows, (s) => s.detector).toFixed(2)}, implied ${meanNme(rows, (s) => s.implied).toFixed(2)}, mean ${meanNme(rows, mean).toFixed(2)} %\n`,
    );
  }
}
process.stdout.write(`\nchosen λ ${best!.lambda}\n`);
encoder.dispose();
tf.disposeVariables();
