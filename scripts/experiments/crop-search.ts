/**
 * Experiment (not shipped): does FaceMesh read a turned face better from another crop? For each
 * photo of folders in AFLW2000-3D's layout, the detector runs as shipped (its landmark map's 68
 * points, read in the crop and its mirror image, are the baseline); then FaceMesh is fitted again in
 * 81 crops around the detected mesh (side × 0.87 / 1 / 1.17, centre moved ±10 % of the side across
 * and ±8 % down, turned ±12°), each read through the map directly and mirrored as the detector
 * does. Printed: the NME (% of the true box) by |yaw| bin, turned 45° or more, and with a FaceMesh
 * face score below 0.5, for the baseline and for ways of choosing or pooling the crops (the
 * highest face score, the top k by score, score-weighted, one kind of perturbation at a time).
 * Then, for the shipped detector's points, the NME left once each face's own offset, offset and
 * scale, or similarity to the truth is removed (how much of the error is where the points sit as a
 * whole rather than their shape), and the mean and spread of that offset per bin (is it a bias?).
 * docs/tuning.md ("Crop search for turned faces") has the result.
 *
 *   node --import tsx scripts/experiments/crop-search.ts --data DIR[,DIR] [--landmark-map FILE] [--cache FILE.jsonl]
 *
 * --cache keeps each photo's readings (one JSON line per photo, keyed by folder and photo name), so
 * a rerun only prints.
 */
import { parseArgs } from 'node:util';
import type { Affine2D } from '../../src/common/image.ts';
import { FaceMesh } from '../../src/detect/facemesh.ts';
import { loadGraphModelFromBytes } from '../../src/detect/graph-model.ts';
import { meshToIbug68 } from '../../src/detect/ibug68.ts';
import { ImagePyramid } from '../../src/detect/image-pyramid.ts';
import { createFaceDetector } from '../../src/detect/index.ts';
import { applyMeshLandmarkMap, applyMeshLandmarkMapMirrored, decodeMeshLandmarkMap } from '../../src/detect/mesh-landmark-map.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { aflwNme, aflwYawBucket, landmarkBoxSize } from '../../src/eval/aflw2000-protocol.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { gatherAflwRows, rounded } from './aflw-folders.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, 'landmark-map': { type: 'string' }, cache: { type: 'string' } } });
if (!values.data) {
  process.stderr.write('usage: node --import tsx scripts/experiments/crop-search.ts --data DIR[,DIR] [--landmark-map FILE] [--cache FILE.jsonl]\n');
  process.exit(2);
}

/** One crop: its perturbation (side factor, shift across, shift down, turn in degrees), FaceMesh's scores and the map's two readings. */
interface CropReading {
  perturbation: [number, number, number, number];
  score: number;
  mirroredScore: number;
  direct: number[];
  mirrored: number[];
}
interface Row {
  key: string;
  yawDeg: number;
  truth68: number[];
  baseline?: { score: number; points: number[] };
  crops?: CropReading[];
}

const SIDE_FACTORS = [0.87, 1, 1.17];
const SHIFTS_ACROSS = [-0.1, 0, 0.1];
const SHIFTS_DOWN = [-0.08, 0, 0.08];
const TURNS_DEG = [-12, 0, 12];

/** `crop` (crop px → photo px) with its side × `sideFactor`, its centre moved by fractions of the side along its own axes, turned by `turnDeg`. */
function perturbCrop(crop: Affine2D, sidePx: number, [sideFactor, across, down, turnDeg]: readonly number[]): Affine2D {
  const half = sidePx / 2;
  const centreX = crop.a * half + crop.b * half + crop.tx + (crop.a * across + crop.b * down) * sidePx;
  const centreY = crop.c * half + crop.d * half + crop.ty + (crop.c * across + crop.d * down) * sidePx;
  const turn = (turnDeg * Math.PI) / 180;
  const cos = Math.cos(turn),
    sin = Math.sin(turn);
  const a = sideFactor * (crop.a * cos + crop.b * sin),
    b = sideFactor * (crop.b * cos - crop.a * sin);
  const c = sideFactor * (crop.c * cos + crop.d * sin),
    d = sideFactor * (crop.d * cos - crop.c * sin);
  return { a, b, c, d, tx: centreX - half * (a + b), ty: centreY - half * (c + d) };
}

async function gather(): Promise<Row[]> {
  await initBackend({ backend: 'wasm' });
  const files = await loadDetectorModelFiles(values['landmark-map'] ? { landmarkMap: values['landmark-map'] } : {});
  if (!files.landmarkMap) throw new Error('the experiment needs a landmark map (--landmark-map FILE)');
  const map = decodeMeshLandmarkMap(files.landmarkMap);
  const detector = await createFaceDetector(files);
  const facemesh = new FaceMesh(await loadGraphModelFromBytes(files.facemesh, 'facemesh'));
  const rows = await gatherAflwRows<Row>(values.data!, values.cache, async (base, image) => {
    const row: Row = { ...base };
    const face = (await detector.detect(image))[0];
    if (face?.modelLandmarks68) {
      row.baseline = { score: face.meshScore, points: rounded(face.modelLandmarks68) };
      const pyramid = new ImagePyramid(image);
      const side = facemesh.inputSize;
      const around = facemesh.cropAroundMesh(face.mesh468, 1.5);
      const crops: CropReading[] = [];
      row.crops = crops;
      for (const sideFactor of SIDE_FACTORS)
        for (const across of SHIFTS_ACROSS)
          for (const down of SHIFTS_DOWN)
            for (const turnDeg of TURNS_DEG) {
              const perturbation: CropReading['perturbation'] = [sideFactor, across, down, turnDeg];
              const crop = perturbCrop(around, side, perturbation);
              const fit = await facemesh.fitInCrop(pyramid, crop);
              const mirroredFit = await facemesh.fitInCrop(pyramid, facemesh.mirroredCrop(crop));
              crops.push({
                perturbation,
                score: Math.round(fit.score * 1000) / 1000,
                mirroredScore: Math.round(mirroredFit.score * 1000) / 1000,
                direct: rounded(applyMeshLandmarkMap(map, fit.mesh, meshToIbug68(fit.mesh))),
                mirrored: rounded(applyMeshLandmarkMapMirrored(map, mirroredFit.mesh)),
              });
            }
    }
    return row;
  });
  detector.dispose();
  facemesh.dispose();
  return rows;
}

function mean(readings: readonly number[][], weights?: readonly number[]): number[] {
  const out = new Array<number>(136).fill(0);
  let total = 0;
  readings.forEach((reading, i) => {
    const weight = weights ? weights[i] : 1;
    total += weight;
    for (let k = 0; k < 136; k++) out[k] += weight * reading[k];
  });
  return out.map((v) => v / total);
}
/** A crop's points as the detector would take them: the mean of both readings when the mirrored fit passes FaceMesh's 0.25. */
const cropPoints = (crop: CropReading) => (crop.mirroredScore >= 0.25 ? mean([crop.direct, crop.mirrored]) : crop.direct);
const byScore = (crops: CropReading[]) => [...crops].sort((p, q) => q.score + q.mirroredScore - p.score - p.mirroredScore);
const only = (crops: CropReading[], keep: (p: CropReading['perturbation']) => boolean) => mean(crops.filter((c) => keep(c.perturbation)).map(cropPoints));

type Found = Required<Row>;
const STRATEGIES: [string, (row: Found) => number[]][] = [
  ['detector (shipped)', (row) => row.baseline.points],
  ['re-cut, unperturbed', (row) => only(row.crops, ([s, x, y, t]) => s === 1 && x === 0 && y === 0 && t === 0)],
  ['highest score', (row) => cropPoints(byScore(row.crops)[0])],
  ['top 5 by score', (row) => mean(byScore(row.crops).slice(0, 5).map(cropPoints))],
  ['top 15 by score', (row) => mean(byScore(row.crops).slice(0, 15).map(cropPoints))],
  ['all 81', (row) => mean(row.crops.map(cropPoints))],
  [
    'score⁴-weighted',
    (row) =>
      mean(
        row.crops.map(cropPoints),
        row.crops.map((c) => (c.score + c.mirroredScore) ** 4 + 1e-6),
      ),
  ],
  ['side only', (row) => only(row.crops, ([, x, y, t]) => x === 0 && y === 0 && t === 0)],
  ['shift only', (row) => only(row.crops, ([s, , , t]) => s === 1 && t === 0)],
  ['turn only', (row) => only(row.crops, ([s, x, y]) => s === 1 && x === 0 && y === 0)],
];
const GROUPS: [string, (row: Found) => boolean][] = [
  ['0-30°', (row) => aflwYawBucket(row.yawDeg) === '0-30'],
  ['30-60°', (row) => aflwYawBucket(row.yawDeg) === '30-60'],
  ['60-90°', (row) => aflwYawBucket(row.yawDeg) === '60-90'],
  ['≥45°', (row) => Math.abs(row.yawDeg) >= 45],
  ['score<0.5', (row) => row.baseline.score < 0.5],
];

const rows = await gather();
const found = rows.filter((row): row is Found => row.baseline !== undefined && row.crops !== undefined);
console.log(`${found.length} of ${rows.length} photos with a face; NME % of the true box (photos)`);
console.log(['choice'.padEnd(22), ...GROUPS.map(([name]) => name.padStart(13)), '  mean of bins'].join(''));
for (const [name, points] of STRATEGIES) {
  const cells = GROUPS.map(([, inGroup]) => {
    const nmes = found.filter(inGroup).map((row) => 100 * aflwNme(points(row), row.truth68));
    return { nme: nmes.reduce((a, b) => a + b, 0) / Math.max(1, nmes.length), count: nmes.length };
  });
  const meanOfBins = (cells[0].nme + cells[1].nme + cells[2].nme) / 3;
  console.log([name.padEnd(22), ...cells.map((c) => `${c.nme.toFixed(2)} (${c.count})`.padStart(13)), `  ${meanOfBins.toFixed(2)}`].join(''));
}

/** The mean of 68 points [136]: [x, y]. */
function centroid(points: readonly number[]): [number, number] {
  let x = 0,
    y = 0;
  for (let k = 0; k < 68; k++) {
    x += points[2 * k];
    y += points[2 * k + 1];
  }
  return [x / 68, y / 68];
}

/** `points` [136] moved (and with `scale`, scaled; with `turn`, also turned) onto `truth` by least squares. */
function alignedTo(points: readonly number[], truth: readonly number[], scale: boolean, turn: boolean): number[] {
  const [px, py] = centroid(points),
    [tx, ty] = centroid(truth);
  // Complex least squares: truth − its centre ≈ (a + ib)(points − their centre).
  let dot = 0,
    cross = 0,
    norm = 0;
  for (let k = 0; k < 68; k++) {
    const ux = points[2 * k] - px,
      uy = points[2 * k + 1] - py,
      vx = truth[2 * k] - tx,
      vy = truth[2 * k + 1] - ty;
    dot += ux * vx + uy * vy;
    cross += ux * vy - uy * vx;
    norm += ux * ux + uy * uy;
  }
  // Without the turn, the scale is the complex factor's modulus; without the scale, the identity.
  const a = !scale ? 1 : turn ? dot / norm : Math.hypot(dot, cross) / norm;
  const b = scale && turn ? cross / norm : 0;
  const out = new Array<number>(136);
  for (let k = 0; k < 68; k++) {
    const ux = points[2 * k] - px,
      uy = points[2 * k + 1] - py;
    out[2 * k] = tx + a * ux - b * uy;
    out[2 * k + 1] = ty + b * ux + a * uy;
  }
  return out;
}
console.log("\nthe detector as shipped, once each face's own error of position is removed:");
for (const [name, scale, turn] of [
  ['as it is', false, false],
  ['offset removed', false, false],
  ['offset and scale', true, false],
  ['offset, scale, turn', true, true],
] as const) {
  const bins = GROUPS.slice(0, 3).map(([, inGroup]) => {
    const nmes = found.filter(inGroup).map((row) => {
      const points = name === 'as it is' ? row.baseline.points : alignedTo(row.baseline.points, row.truth68, scale, turn);
      return 100 * aflwNme(points, row.truth68);
    });
    return nmes.reduce((x, y) => x + y, 0) / Math.max(1, nmes.length);
  });
  console.log([name.padEnd(22), ...bins.map((nme, i) => `${GROUPS[i][0]} ${nme.toFixed(2)}`.padStart(14))].join(''));
}
// Is the offset a bias? Its mean and spread per bin, across the face signed by the side it turns to.
for (const [bin, inGroup] of GROUPS.slice(0, 3)) {
  const offsets = found.filter(inGroup).map((row) => {
    const [px, py] = centroid(row.baseline.points),
      [tx, ty] = centroid(row.truth68);
    const box = landmarkBoxSize(row.truth68);
    return [(100 * Math.sign(row.yawDeg) * (px - tx)) / box, (100 * (py - ty)) / box];
  });
  const stats = (axis: number) => {
    const values = offsets.map((o) => o[axis]);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    return `${mean.toFixed(2)} ± ${Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length).toFixed(2)}`;
  };
  console.log(`${bin}: offset of the points' centre, % of the box: across (towards the turn) ${stats(0)}, down ${stats(1)}`);
}
