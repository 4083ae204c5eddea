/**
 * Fit the map from FaceMesh's 468 points to the model's own 68 landmarks (src/detect/mesh-landmark-map.ts)
 * on folders in AFLW2000-3D's layout with exact truth (`facegar eval aflw2000 --write-synthetic DIR
 * --n N --seed S` writes studio renders so), and report the NME by |yaw| bin on other such folders,
 * FaceMesh's own 68 points beside the map's. Each photo is also used mirrored (the detector run on
 * the flipped photo, the truth flipped with its left and right points swapped). The ridge weight is
 * chosen on every 5th training photo (the largest whose held-out NME is within 1 % of the best: the
 * held-out curve is flat over a wide range, and a smoother map carries better to photos unlike the
 * training renders), then the map is fitted on all of them.
 *
 *   node --import tsx scripts/fit-mesh-landmark-map.ts --train DIR[,DIR] [--eval DIR[,DIR]] [--out models/facemesh-landmark-map]
 *     [--cache FILE.json] [--lambdas 1,3,10,30,100]
 *
 * --cache keeps the detector's output per photo (and reads it back), so refitting is quick.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mirrorImage, type RgbaImage } from '../src/common/image.ts';
import { createFaceDetector, type FaceDetector } from '../src/detect/index.ts';
import { applyMeshLandmarkMap, encodeMeshLandmarkMap, fitMeshLandmarkMap, IBUG68_MIRROR, MESH_MAP_FEATURE_COUNT } from '../src/detect/mesh-landmark-map.ts';
import { initBackend } from '../src/engine/backend.ts';
import { aflwGroundTruth, aflwNme, aflwYawBucket, AFLW_YAW_BUCKETS } from '../src/eval/aflw2000-protocol.ts';
import { parseMatFile } from '../src/io/mat-file.ts';
import { decodeImageFile } from '../src/io/node/decode-image.ts';
import { loadDetectorModelFiles } from '../src/io/node/detector-models.ts';

interface Detection {
  name: string;
  yawDeg: number;
  mesh468: number[];
  landmarks68: number[];
  truth68: number[];
}

const { values } = parseArgs({
  options: {
    train: { type: 'string' },
    eval: { type: 'string' },
    out: { type: 'string' },
    cache: { type: 'string' },
    lambdas: { type: 'string', default: '1,3,10,30,100,300' },
  },
});
if (!values.train) throw new Error('--train DIR[,DIR] is needed');
await initBackend({ backend: 'wasm' });
const detector = await createFaceDetector(await loadDetectorModelFiles());
const cache: Record<string, Detection[]> = values.cache && existsSync(values.cache) ? JSON.parse(await readFile(values.cache, 'utf8')) : {};

/** The truth seen in the mirrored photo: x → width − x (pixel centres at i + 0.5), left and right points swapped. */
function mirroredTruth(truth: ArrayLike<number>, width: number): number[] {
  const out = new Array<number>(136);
  for (let k = 0; k < 68; k++) {
    const from = IBUG68_MIRROR[k];
    out[2 * k] = width - truth[2 * from];
    out[2 * k + 1] = truth[2 * from + 1];
  }
  return out;
}

async function detectFolder(dir: string, faceDetector: FaceDetector, withMirror: boolean): Promise<Detection[]> {
  const key = `${dir}|${withMirror}`;
  if (cache[key]) return cache[key];
  const names = (await readdir(dir)).filter((n) => /\.(jpg|png)$/i.test(n)).sort();
  const found: Detection[] = [];
  for (const [index, name] of names.entries()) {
    const matPath = join(dir, name.replace(/\.[^.]+$/, '.mat'));
    if (!existsSync(matPath)) continue;
    const truth = aflwGroundTruth(await parseMatFile(new Uint8Array(await readFile(matPath))));
    const image = await decodeImageFile(join(dir, name));
    const views: [string, RgbaImage, number[], number][] = [[name, image, Array.from(truth.landmarks2d), truth.yawDeg]];
    if (withMirror) views.push([`${name} (mirrored)`, mirrorImage(image), mirroredTruth(truth.landmarks2d, image.width), -truth.yawDeg]);
    for (const [viewName, view, truth68, yawDeg] of views) {
      const face = (await faceDetector.detect(view))[0];
      if (!face) continue;
      found.push({ name: viewName, yawDeg, mesh468: Array.from(face.mesh468), landmarks68: Array.from(face.landmarks68), truth68 });
    }
    if ((index + 1) % 50 === 0) console.error(`${dir}: ${index + 1} of ${names.length} photos`);
  }
  cache[key] = found;
  if (values.cache) await writeFile(values.cache, JSON.stringify(cache));
  return found;
}

/** Mean NME (%) per |yaw| bucket and overall: FaceMesh's 68 points, and the map's (when given). */
function nmeByBucket(rows: Detection[], weights?: Float32Array, digits = 2): Record<string, number> {
  const sums = new Map<string, { sum: number; count: number }>();
  for (const row of rows) {
    const points = weights ? applyMeshLandmarkMap({ weights }, row.mesh468, row.landmarks68) : row.landmarks68;
    const nme = 100 * aflwNme(points, row.truth68);
    for (const bucket of [aflwYawBucket(row.yawDeg), 'all']) {
      const s = sums.get(bucket) ?? { sum: 0, count: 0 };
      s.sum += nme;
      s.count++;
      sums.set(bucket, s);
    }
  }
  const out: Record<string, number> = {};
  for (const bucket of [...AFLW_YAW_BUCKETS.map(([low, high]) => `${low}-${high}`), 'all']) {
    const s = sums.get(bucket);
    if (s) out[bucket] = Number((s.sum / s.count).toFixed(digits));
  }
  return out;
}

const train: Detection[] = [];
for (const dir of values.train.split(',')) train.push(...(await detectFolder(dir, detector, true)));
const heldOut = train.filter((_, i) => Math.floor(i / 2) % 5 === 0);
const fitting = train.filter((_, i) => Math.floor(i / 2) % 5 !== 0);
const tried: { lambda: number; nme: number }[] = [];
for (const lambda of values.lambdas!.split(',').map(Number)) {
  const nme = nmeByBucket(heldOut, fitMeshLandmarkMap(fitting, lambda), 4).all;
  console.error(`lambda ${lambda}: NME ${nme.toFixed(4)} % on ${heldOut.length} held-out training views`);
  tried.push({ lambda, nme });
}
const lowest = Math.min(...tried.map((t) => t.nme));
const best = tried.filter((t) => t.nme <= 1.01 * lowest).sort((a, b) => b.lambda - a.lambda)[0];
const weights = fitMeshLandmarkMap(train, best.lambda);
const report: Record<string, unknown> = { trainingViews: train.length, lambda: best.lambda, heldOutNmePercent: best.nme, eval: {} };
for (const dir of values.eval?.split(',') ?? []) {
  const rows = await detectFolder(dir, detector, false);
  (report.eval as Record<string, unknown>)[dir.split('/').pop()!] = { photos: rows.length, facemesh: nmeByBucket(rows), map: nmeByBucket(rows, weights) };
}
if (values.out) {
  await mkdir(values.out, { recursive: true });
  const bytes = encodeMeshLandmarkMap({ weights });
  await writeFile(join(values.out, 'weights.bin'), bytes);
  const manifest = {
    format: 'facegar-mesh-landmark-map-1',
    features: 'FaceMesh 468 x, y, z in the frame of its 68 points, then 1',
    outputs: "the model's 68 landmark vertices, x, y in that frame",
    shape: [MESH_MAP_FEATURE_COUNT, 136],
    lambda: best.lambda,
    trainingViews: train.length,
    trainingFolders: values.train.split(',').map((dir) => dir.split('/').pop()),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  await writeFile(join(values.out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}
detector.dispose();
console.log(JSON.stringify(report, null, 1));
