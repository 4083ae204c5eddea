/**
 * Experiment: on turned faces the landmark map's points sit off the face as a whole (FaceMesh
 * centres its mesh on the head; docs/tuning.md, "Crop search for turned faces"). Do BlazeFace's
 * own keypoints (eyes, nose tip, mouth centre) know better where the turned face is? For each
 * photo of AFLW2000-3D-layout folders it runs the detector, then BlazeFace alone, and prints by
 * yaw bin the NME (% of the true box) of the map's points, each keypoint's error against the
 * truth beside the map's point for it, and the map's points moved by the offset the keypoints
 * give.
 *
 *   node --import tsx scripts/experiments/blazeface-profile-offset.ts --data SETS/aflw-c2,SETS/aflw-c3 [--cache F.jsonl]
 */
import { parseArgs } from 'node:util';
import { BlazeFace } from '../../src/detect/blazeface.ts';
import { loadGraphModelFromBytes } from '../../src/detect/graph-model.ts';
import { ImagePyramid } from '../../src/detect/image-pyramid.ts';
import { createFaceDetector } from '../../src/detect/index.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { aflwNme, aflwYawBucket, landmarkBoxSize } from '../../src/eval/aflw2000-protocol.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { gatherAflwRows, rounded } from './aflw-folders.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, cache: { type: 'string' } } });
if (!values.data) throw new Error('--data DIR[,DIR] (AFLW2000-3D layout) is needed');

interface Row {
  key: string;
  yawDeg: number;
  truth68: number[];
  map?: number[];
  meshScore?: number;
  /** BlazeFace's 6 keypoints [12] of the detection overlapping the face most, and its score. */
  keypoints?: number[];
  blazeScore?: number;
}

function overlap(a: { x: number; y: number; width: number; height: number }, b: typeof a): number {
  const w = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const h = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  return (w * h) / (a.width * a.height + b.width * b.height - w * h);
}

async function gather(): Promise<Row[]> {
  await initBackend({ backend: 'wasm' });
  const files = await loadDetectorModelFiles({});
  const detector = await createFaceDetector(files);
  const blazeface = new BlazeFace(await loadGraphModelFromBytes(files.blazeface, 'blazeface'));
  const rows = await gatherAflwRows<Row>(values.data!, values.cache, async (row, image) => {
    const face = (await detector.detect(image))[0];
    if (!face?.modelLandmarks68) return row;
    const found: Row = { ...row, map: rounded(face.modelLandmarks68), meshScore: Math.round(face.meshScore * 1000) / 1000 };
    const detections = await blazeface.detect(new ImagePyramid(image), { minScore: 0.2, maxDetections: 6, iouThreshold: 0.3 });
    const best = detections.map((d) => ({ d, iou: overlap(d.box, face.box) })).sort((p, q) => q.iou - p.iou)[0];
    if (best && best.iou > 0.1) {
      found.keypoints = rounded(best.d.keypoints);
      found.blazeScore = Math.round(best.d.score * 1000) / 1000;
    }
    return found;
  });
  detector.dispose();
  blazeface.dispose();
  return rows;
}

/** The iBUG-68 point sets BlazeFace's keypoints 0–3 stand for: image-left eye, image-right eye, nose tip, mouth centre. */
const KEYPOINT_GROUPS: [string, number[]][] = [
  ['image-left eye', [36, 37, 38, 39, 40, 41]],
  ['image-right eye', [42, 43, 44, 45, 46, 47]],
  ['nose tip', [30]],
  ['mouth centre', [62, 66, 51, 57]],
];
function groupPoint(points: ArrayLike<number>, indices: number[]): [number, number] {
  let x = 0,
    y = 0;
  for (const k of indices) {
    x += points[2 * k] / indices.length;
    y += points[2 * k + 1] / indices.length;
  }
  return [x, y];
}
function shifted(points: number[], by: [number, number]): number[] {
  return points.map((v, i) => v + by[i % 2]);
}
/** The map's points moved so that the mean of the chosen groups lands on the mean of their keypoints. */
function movedOnto(row: Required<Row>, groups: number[]): number[] {
  let dx = 0,
    dy = 0;
  for (const g of groups) {
    const [mx, my] = groupPoint(row.map, KEYPOINT_GROUPS[g][1]);
    dx += (row.keypoints[2 * g] - mx) / groups.length;
    dy += (row.keypoints[2 * g + 1] - my) / groups.length;
  }
  return shifted(row.map, [dx, dy]);
}
/** The least-squares offset of the map's points onto the truth (the best any offset can do). */
function oracleOffset(row: Required<Row>): number[] {
  let dx = 0,
    dy = 0;
  for (let k = 0; k < 68; k++) {
    dx += (row.truth68[2 * k] - row.map[2 * k]) / 68;
    dy += (row.truth68[2 * k + 1] - row.map[2 * k + 1]) / 68;
  }
  return shifted(row.map, [dx, dy]);
}

const rows = await gather();
const found = rows.filter((row): row is Required<Row> => row.map !== undefined && row.keypoints !== undefined);
const bins = ['0-30', '30-60', '60-90'];
const inBin = (bin: string) => found.filter((row) => aflwYawBucket(row.yawDeg) === bin);
console.log(`${rows.length} photos; ${rows.filter((r) => r.map).length} with a face, ${found.length} with BlazeFace keypoints too`);
console.log('NME % of the true box by |yaw| bin (photos):');
const strategies: [string, (row: Required<Row>) => number[]][] = [
  ['map (shipped)', (row) => row.map],
  ['moved onto nose', (row) => movedOnto(row, [2])],
  ['moved onto mouth', (row) => movedOnto(row, [3])],
  ['moved onto nose + mouth', (row) => movedOnto(row, [2, 3])],
  ['moved onto all four', (row) => movedOnto(row, [0, 1, 2, 3])],
  ['half-way to nose + mouth', (row) => row.map.map((v, i) => (v + movedOnto(row, [2, 3])[i]) / 2)],
  ['best offset (oracle)', oracleOffset],
];
for (const [name, points] of strategies) {
  const cells = bins.map((bin) => {
    const nmes = inBin(bin).map((row) => 100 * aflwNme(points(row), row.truth68));
    return `${(nmes.reduce((a, b) => a + b, 0) / Math.max(1, nmes.length)).toFixed(2)} (${nmes.length})`;
  });
  console.log(`${name.padEnd(26)}${cells.map((c) => c.padStart(14)).join('')}`);
}
console.log('\nkeypoint error, % of the true box: BlazeFace / the map, by bin');
for (const [g, [name, indices]] of KEYPOINT_GROUPS.entries()) {
  const cells = bins.map((bin) => {
    let blaze = 0,
      map = 0;
    const members = inBin(bin);
    for (const row of members) {
      const [tx, ty] = groupPoint(row.truth68, indices);
      const [mx, my] = groupPoint(row.map, indices);
      const box = landmarkBoxSize(row.truth68);
      blaze += (100 * Math.hypot(row.keypoints[2 * g] - tx, row.keypoints[2 * g + 1] - ty)) / box / members.length;
      map += (100 * Math.hypot(mx - tx, my - ty)) / box / members.length;
    }
    return `${blaze.toFixed(2)} / ${map.toFixed(2)}`;
  });
  console.log(`${name.padEnd(26)}${cells.map((c) => c.padStart(16)).join('')}`);
}
