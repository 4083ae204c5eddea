/**
 * Experiment: does the identity regressor gain from averaging its embedding over small shifts,
 * scales and turns of the aligned crop (test-time jitter), beside the crop and mirror image it
 * already averages? For each face of synthetic-set folders (and optional studio renders), the
 * shipped estimate and the jitter-averaged one, scored as fit-identity-regressor.ts scores its
 * --eval sets: the identity-alone shape's median vertex error after alignment against the mean
 * face's, and the per-mode correlation with the truth (all modes, top 20 by geometric effect).
 *
 *   node --import tsx scripts/experiments/regressor-jitter.ts --set DIR[,DIR] [--studio SEED:COUNT] [--regressor DIR] [--shift 0.03] [--scale 0.03] [--turn-deg 3]
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { mirrorImage, type RgbaImage } from '../../src/common/image.ts';
import { loadIdentityRegressor } from '../../src/api/regressor-loading.ts';
import { alignFaceCrop } from '../../src/detect/align-face-crop.ts';
import { createFaceDetector } from '../../src/detect/index.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { quantile } from '../../src/eval/error-statistics.ts';
import { identityCorrelationSummary, modesByGeometricEffect, perModeCorrelation } from '../../src/eval/identity-metrics.ts';
import { interOcularDistance } from '../../src/api/inter-ocular-distance.ts';
import { alignedVertexErrorsMm, benchmarkSceneSeed } from '../../src/eval/synthetic-benchmark.ts';
import { EMBEDDING_CROP_PX, regressIdentity } from '../../src/invert/identity-regressor.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { readIdentityRegressorFiles, shippedModelsDir } from '../../src/io/node/gar-models.ts';
import { loadMorphableModel } from '../../src/io/node/load-morphable-model.ts';
import { evaluateMorphableModel } from '../../src/morphable/morphable-model.ts';
import { sampleStudioScene } from '../../src/shading/studio-scene.ts';
import { renderStudioPhoto } from '../../src/shading/studio-renderer.ts';

const FACE_AREA_VERTICES = 9409;
const { values } = parseArgs({
  options: {
    set: { type: 'string', default: '' },
    studio: { type: 'string', default: '' },
    regressor: { type: 'string' },
    shift: { type: 'string', default: '0.03' },
    scale: { type: 'string', default: '0.03' },
    'turn-deg': { type: 'string', default: '3' },
  },
});
const shift = Number(values.shift),
  scale = Number(values.scale),
  turn = (Number(values['turn-deg']) * Math.PI) / 180;
await initBackend({ backend: 'wasm' });
const { model } = await loadMorphableModel();
const loaded = await loadIdentityRegressor(await readIdentityRegressorFiles(values.regressor ?? join(shippedModelsDir(), 'identity-regressor')), model);
const detector = await createFaceDetector(await loadDetectorModelFiles());

/**
 * The 68 points moved by a similarity about their centroid (shifts in eye distances, between the
 * eye centres): the crop cut from them then moves the other way.
 */
function jittered(points: Float32Array, dx: number, dy: number, s: number, angle: number): Float32Array {
  let cx = 0,
    cy = 0;
  for (let i = 0; i < 68; i++) {
    cx += points[2 * i] / 68;
    cy += points[2 * i + 1] / 68;
  }
  const eyeDistance = interOcularDistance(points);
  const out = new Float32Array(136);
  const c = Math.cos(angle) * s,
    d = Math.sin(angle) * s;
  for (let i = 0; i < 68; i++) {
    const x = points[2 * i] - cx,
      y = points[2 * i + 1] - cy;
    out[2 * i] = cx + c * x - d * y + dx * eyeDistance;
    out[2 * i + 1] = cy + d * x + c * y + dy * eyeDistance;
  }
  return out;
}

const jitters: [number, number, number, number][] = [
  [shift, 0, 1, 0],
  [-shift, 0, 1, 0],
  [0, shift, 1, 0],
  [0, -shift, 1, 0],
  [0, 0, 1 + scale, 0],
  [0, 0, 1 - scale, 0],
  [0, 0, 1, turn],
  [0, 0, 1, -turn],
];

interface Row {
  truth: number[];
  plain: Float32Array;
  jitterMean: Float32Array;
}
const rows: Row[] = [];

function estimate(image: RgbaImage, landmarks: Float32Array, mesh: ArrayLike<number>) {
  const crops = [landmarks, ...jitters.map(([dx, dy, s, a]) => jittered(landmarks, dx, dy, s, a))].flatMap((points) => {
    const crop = alignFaceCrop(image, points, EMBEDDING_CROP_PX).crop;
    return [crop, mirrorImage(crop)];
  });
  const embeddings = loaded.embedder.embedImages(crops);
  const meanOf = (list: Float32Array[]) => list[0].map((_, k) => list.reduce((sum, e) => sum + e[k], 0) / list.length);
  return {
    plain: regressIdentity(loaded.regressor, meanOf(embeddings.slice(0, 2)), mesh),
    jitterMean: regressIdentity(loaded.regressor, meanOf(embeddings), mesh),
  };
}

async function add(image: RgbaImage, truth: number[]) {
  const face = (await detector.detect(image))[0];
  if (face) rows.push({ truth, ...estimate(image, face.landmarks68, face.mesh468) });
}

for (const dir of values.set!.split(',').filter(Boolean)) {
  for (const name of (await readdir(dir)).filter((n) => /^\d+\.json$/.test(n)).sort()) {
    const truth = JSON.parse(await readFile(join(dir, name), 'utf8')) as { image: string; identity: number[] };
    await add(await decodeImageFile(join(dir, basename(truth.image))), truth.identity);
  }
  console.error(`${dir}: ${rows.length} faces so far`);
}
for (const spec of values.studio!.split(',').filter(Boolean)) {
  const [seed, count] = spec.split(':').map(Number);
  for (let i = 0; i < count; i++) {
    const scene = sampleStudioScene(model, benchmarkSceneSeed(seed, i));
    await add(renderStudioPhoto(model, scene).image, Array.from(scene.identity));
  }
  console.error(`studio ${spec}: ${rows.length} faces so far`);
}
detector.dispose();
loaded.embedder.dispose();

const noExpression = new Float32Array(model.expressionNames.length);
const shape = (identity: ArrayLike<number>) => evaluateMorphableModel(model, identity, noExpression);
const medianError = (a: ArrayLike<number>, truth: Float32Array) => quantile(alignedVertexErrorsMm(shape(a), truth, FACE_AREA_VERTICES).sort(), 0.5);
const top20 = modesByGeometricEffect(model, FACE_AREA_VERTICES).slice(0, 20);
const correlation = (pick: (r: Row) => ArrayLike<number>) =>
  identityCorrelationSummary(
    perModeCorrelation(
      rows.map(pick),
      rows.map((r) => r.truth),
    ),
    top20,
  );
let meanFace = 0;
const errors = { plain: 0, jitterMean: 0 };
for (const r of rows) {
  const truth = shape(r.truth);
  meanFace += medianError(new Float32Array(model.identityCount), truth) / rows.length;
  errors.plain += medianError(r.plain, truth) / rows.length;
  errors.jitterMean += medianError(r.jitterMean, truth) / rows.length;
}
console.log(`${rows.length} faces; mean face ${meanFace.toFixed(3)} mm`);
for (const key of ['plain', 'jitterMean'] as const) {
  const r = correlation((row) => row[key]);
  console.log(
    `${key.padEnd(10)} ${errors[key].toFixed(3)} mm, ${(errors[key] / meanFace).toFixed(3)}× the mean face, id r ${r.allModes.toFixed(3)}, top20 ${r.topModes.toFixed(3)}`,
  );
}
