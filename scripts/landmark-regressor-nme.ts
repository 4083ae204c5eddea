/**
 * How well a landmark regressor places its points on studio renders with exact truth, beside the
 * detector, by |yaw| bin: the detector's recall, and the NME (mean point distance over the true
 * eye-centre distance, and over sqrt(w·h) of the true 68-point box) of
 *   facemesh: the detector's 68 points vs the projections of the vertices the fit pairs them with
 *             (the detector calibration, DETECTOR_LANDMARK_VERTICES);
 *   regressor ×1, ×2: the regressor's points after one pass (crop cut from the detector's points)
 *             and after a second pass (re-cut around the first pass's), vs its own vertices;
 * and the regressor's time per pass. Faces the detector misses are left out of every row.
 *
 *   node --import tsx scripts/landmark-regressor-nme.ts --regressor DIR [--count 60] [--max-yaw 90] [--seed 1]
 */
import { parseArgs } from 'node:util';
import { createFaceDetector } from '../src/detect/index.ts';
import { initBackend } from '../src/engine/backend.ts';
import { projectPointsArray, transformPointsArray } from '../src/geometry/camera.ts';
import { decodeLandmarkRegressor } from '../src/invert/landmark-regressor-checkpoint.ts';
import { regressLandmarks } from '../src/invert/regress-landmarks.ts';
import { loadDetectorModelFiles } from '../src/io/node/detector-models.ts';
import { readLandmarkRegressorFiles } from '../src/io/node/gar-models.ts';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';
import { DETECTOR_LANDMARK_VERTICES } from '../src/morphable/detector-landmark-vertices.ts';
import { renderStudioPhoto, type StudioTruth } from '../src/shading/studio-renderer.ts';
import { sampleStudioScene } from '../src/shading/studio-scene.ts';
import { hashSeed } from '../src/common/seeded-random.ts';

const { values } = parseArgs({
  options: {
    regressor: { type: 'string' },
    count: { type: 'string', default: '60' },
    'max-yaw': { type: 'string', default: '90' },
    seed: { type: 'string', default: '1' },
  },
});
if (!values.regressor) throw new Error('--regressor DIR is required');
await initBackend();
const { model } = await loadMorphableModel();
const files = await readLandmarkRegressorFiles(values.regressor);
const { regressor, landmarkVertices } = decodeLandmarkRegressor(files.manifest, files.weights, model);
const detector = await createFaceDetector(await loadDetectorModelFiles());
const BINS = [0, 30, 60, 90.01];
const rows = ['facemesh', 'regressor ×1', 'regressor ×2'];
const sums = rows.map(() => BINS.slice(1).map(() => ({ eye: 0, box: 0, n: 0 })));
const seen = BINS.slice(1).map(() => ({ found: 0, all: 0 }));
const passMs: number[] = [];

/** Projections [68*2] of `vertices` of the true face into the photo. */
function project(truth: StudioTruth, vertices: ArrayLike<number>): Float32Array {
  const points = Float32Array.from(
    Array.from(vertices).flatMap((v) => [truth.verticesModel[3 * v], truth.verticesModel[3 * v + 1], truth.verticesModel[3 * v + 2]]),
  );
  return projectPointsArray(transformPointsArray(points, truth.rotation, truth.translationMm), truth.camera);
}

function errors(points: Float32Array, truth: Float32Array): { eye: number; box: number } {
  let sum = 0,
    minX = Infinity,
    maxX = -Infinity,
    minY = Infinity,
    maxY = -Infinity;
  const eye = [0, 0, 0, 0];
  for (let k = 0; k < 68; k++) {
    const [x, y] = [truth[2 * k], truth[2 * k + 1]];
    sum += Math.hypot(points[2 * k] - x, points[2 * k + 1] - y);
    [minX, maxX, minY, maxY] = [Math.min(minX, x), Math.max(maxX, x), Math.min(minY, y), Math.max(maxY, y)];
    if (k >= 36 && k < 48) {
      eye[k < 42 ? 0 : 2] += x / 6;
      eye[k < 42 ? 1 : 3] += y / 6;
    }
  }
  return { eye: sum / 68 / Math.hypot(eye[2] - eye[0], eye[3] - eye[1]), box: sum / 68 / Math.sqrt((maxX - minX) * (maxY - minY)) };
}

const count = Number(values.count);
for (let i = 0; i < count; i++) {
  const render = renderStudioPhoto(
    model,
    sampleStudioScene(model, hashSeed('landmark-regressor-nme', Number(values.seed), i), { maxYawDeg: Number(values['max-yaw']) }),
  );
  const bin = BINS.findIndex((edge, b) => b > 0 && Math.abs(render.truth.anglesDeg[1]) < edge) - 1;
  seen[bin].all++;
  const face = (await detector.detect(render.image))[0];
  if (!face) continue;
  seen[bin].found++;
  let started = performance.now();
  const once = regressLandmarks(regressor, render.image, face.landmarks68, 1).landmarks;
  passMs.push(performance.now() - started);
  started = performance.now();
  const twice = regressLandmarks(regressor, render.image, once.subarray(0, 136), 1).landmarks;
  passMs.push(performance.now() - started);
  const own = project(render.truth, landmarkVertices);
  [
    [face.landmarks68, project(render.truth, DETECTOR_LANDMARK_VERTICES)],
    [once, own],
    [twice, own],
  ].forEach(([points, truth], r) => {
    const e = errors(points, truth);
    sums[r][bin].eye += e.eye;
    sums[r][bin].box += e.box;
    sums[r][bin].n++;
  });
}
const cell = (s: { eye: number; box: number; n: number }) =>
  (s.n ? `${((100 * s.eye) / s.n).toFixed(2)} / ${((100 * s.box) / s.n).toFixed(2)}` : '-').padEnd(15);
console.log(`${count} studio renders (|yaw| ≤ ${values['max-yaw']}°), regressor ${values.regressor}`);
console.log(
  `${'|yaw| bin'.padEnd(14)}${BINS.slice(1)
    .map((edge, b) => `${BINS[b]}–${Math.round(edge)}°`.padEnd(15))
    .join('')}`,
);
console.log(`${'detected'.padEnd(14)}${seen.map((s) => `${s.found}/${s.all}`.padEnd(15)).join('')}`);
rows.forEach((name, r) => console.log(`${name.padEnd(14)}${sums[r].map(cell).join('')}`));
console.log("NME %: over the eye-centre distance / over sqrt(w·h) of the landmark box, each vs the vertices that row's fit pairs its points with");
passMs.sort((a, b) => a - b);
if (passMs.length)
  console.log(`regressor: median ${passMs[Math.floor(passMs.length / 2)].toFixed(0)} ms per pass (crop cut, forward, mapping) over ${passMs.length} passes`);
regressor.dispose();
detector.dispose();
