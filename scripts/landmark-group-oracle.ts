/**
 * Which of the detector's landmark errors bend the fitted 3D shape? On the near-frontal faces of
 * synthetic sets (true |yaw| under --max-yaw, where the fits follow FaceMesh's own 68 points on
 * their calibrated vertices), the graphics path's landmark fit (no photometric steps, no identity
 * regressor: the oracle-landmarks row's fit) runs on:
 *   - the detector's points, on DETECTOR_LANDMARK_VERTICES;
 *   - the true points, on the model's own landmark vertices (the oracle row);
 *   - the detector's points with one group (jaw, brows, nose, eyes, mouth, or all inner points)
 *     swapped for the true ones on the model's vertices;
 *   - the detector's points moved by the 2D similarity that best maps them onto the true ones (is
 *     it where the points sit as a whole, or their shape?).
 * Each fit is scored as the benchmark's headline (median per-vertex error over the full face
 * area after similarity alignment) over the mean face's on the same face; the mean over faces
 * is printed. A group whose truth takes the ratio furthest down is the one whose detector errors
 * cost the shape most.
 *
 *   node --import tsx scripts/landmark-group-oracle.ts --set DIR[,DIR…] [--max-yaw 25] [--n N] [--json OUT.json]
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Reconstructor } from '../src/api/reconstruct.ts';
import { applyAffine2D, type RgbaImage } from '../src/common/image.ts';
import { FacegarError } from '../src/common/errors.ts';
import { fitSimilarity2D } from '../src/detect/align-face-crop.ts';
import { createFaceDetector } from '../src/detect/face-detector.ts';
import { summarizeErrors } from '../src/eval/error-statistics.ts';
import { alignedVertexErrorsMm } from '../src/eval/synthetic-benchmark.ts';
import { loadDetectorModelFiles } from '../src/io/node/detector-models.ts';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';
import { syntheticSetSource } from '../src/io/node/synthetic-set-files.ts';
import { DETECTOR_LANDMARK_VERTICES } from '../src/morphable/detector-landmark-vertices.ts';

const USAGE = 'usage: node --import tsx scripts/landmark-group-oracle.ts --set DIR[,DIR…] [--max-yaw DEG] [--n N] [--json OUT.json]\n';
const { values } = parseArgs({
  options: { set: { type: 'string' }, 'max-yaw': { type: 'string', default: '25' }, n: { type: 'string' }, json: { type: 'string' } },
});
const maxYawDeg = Number(values['max-yaw']);
const perSet = values.n === undefined ? Infinity : Number(values.n);
if (!values.set || !(maxYawDeg > 0 && maxYawDeg <= 90) || !(perSet >= 1)) {
  process.stderr.write(USAGE);
  process.exit(2);
}

const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);
/** iBUG-68 groups. */
const GROUPS: Record<string, number[]> = {
  jaw: range(0, 16),
  brows: range(17, 26),
  nose: range(27, 35),
  eyes: range(36, 47),
  mouth: range(48, 67),
  'all inner': range(17, 67),
};

const [{ model }, detectorFiles] = await Promise.all([loadMorphableModel(), loadDetectorModelFiles()]);
const detector = await createFaceDetector(detectorFiles);
const reconstructor = await Reconstructor.create({ model, detector: detectorFiles });
const modelVertices = Array.from(model.landmarkVertexIndices);
const detectorVertices = [...DETECTOR_LANDMARK_VERTICES];
/** The benchmark's per-image error: the median over the full face area after similarity alignment. */
const errorMm = (vertices: Float32Array, truth: Float32Array) => summarizeErrors(alignedVertexErrorsMm(vertices, truth, model.vertexCount)).median;

async function fittedVertices(image: RgbaImage, landmarks68: Float32Array, landmarkVertices: number[]): Promise<Float32Array> {
  const result = await reconstructor.reconstruct(image, { maxFaces: 1, renderer: 'graphics', fit: { photometricSteps: 0 }, landmarks68, landmarkVertices });
  return result.faces[0].vertices;
}

/** The detector's points with `indices` taken from `source` (points on the model's own landmark vertices), and the vertices under them. */
function withGroupFrom(detected: Float32Array, indices: number[], source: Float32Array): [Float32Array, number[]] {
  const points = new Float32Array(detected),
    vertices = [...detectorVertices];
  for (const k of indices) {
    points[2 * k] = source[2 * k];
    points[2 * k + 1] = source[2 * k + 1];
    vertices[k] = modelVertices[k];
  }
  return [points, vertices];
}

/** `points` [136] moved by the 2D similarity (scale, turn, shift) that maps them best, in least squares, onto `target`. */
function similarityMoved(points: Float32Array, target: Float32Array): Float32Array {
  const pairs = (v: Float32Array) => Array.from({ length: v.length / 2 }, (_, k) => [v[2 * k], v[2 * k + 1]] as [number, number]);
  const move = fitSimilarity2D(pairs(points), pairs(target));
  return Float32Array.from(pairs(points).flatMap(([x, y]) => applyAffine2D(move, x, y)));
}

const records: Record<string, number | string>[] = [];
for (const dir of values.set.split(',').filter(Boolean)) {
  const source = await syntheticSetSource(resolve(dir), model, perSet);
  for (let index = 0; index < source.count; index++) {
    const { image, truth } = await source.face(index);
    const yawDeg = truth.anglesDeg[1];
    if (Math.abs(yawDeg) >= maxYawDeg) continue;
    const found = await detector.detect(image, { maxFaces: 1 });
    if (found.length === 0) {
      process.stderr.write(`${dir} ${source.stems[index]}: no face found, skipped\n`);
      continue;
    }
    const detected = found[0].landmarks68,
      truePoints = truth.landmarks2d;
    const meanFaceMm = errorMm(model.neutral, truth.verticesModel);
    const record: Record<string, number | string> = { set: dir, face: source.stems[index], yawDeg, 'mean face': meanFaceMm };
    const variants: [string, Float32Array, number[]][] = [
      ['detected', detected, detectorVertices],
      ['true (oracle)', truePoints, modelVertices],
    ];
    for (const [group, indices] of Object.entries(GROUPS)) variants.push([`detected, true ${group}`, ...withGroupFrom(detected, indices, truePoints)]);
    variants.push(['detected, moved as a whole onto the truth', similarityMoved(detected, truePoints), detectorVertices]);
    // The landmark map's jaw (read from the whole mesh, on the model's own jaw vertices) in place of FaceMesh's outline.
    const mapped = found[0].modelLandmarks68;
    if (mapped) variants.push(["detected, the landmark map's jaw", ...withGroupFrom(detected, GROUPS.jaw, mapped)]);
    try {
      for (const [name, points, vertices] of variants) record[name] = errorMm(await fittedVertices(image, points, vertices), truth.verticesModel);
    } catch (error) {
      if (!(error instanceof FacegarError)) throw error;
      process.stderr.write(`${dir} ${source.stems[index]}: ${error.message}, skipped\n`);
      continue;
    }
    records.push(record);
    process.stderr.write(
      `${dir} ${source.stems[index]} yaw ${yawDeg.toFixed(0)}°: mean face ${meanFaceMm.toFixed(2)} mm, detected ${(record.detected as number).toFixed(2)}, true ${(record['true (oracle)'] as number).toFixed(2)}\n`,
    );
  }
}
if (records.length === 0) {
  process.stderr.write(`no face under ${maxYawDeg}° of yaw was found in ${values.set}\n`);
  process.exit(1);
}
// Every row over the faces that have it (the map's row needs the map's reading).
const rowNames = [...new Set(records.flatMap((record) => Object.keys(record)))].filter((name) => !['set', 'face', 'yawDeg', 'mean face'].includes(name));
for (const name of rowNames) {
  const ratios = records.filter((record) => name in record).map((record) => (record[name] as number) / (record['mean face'] as number));
  process.stdout.write(
    `${name.padEnd(44)} ${(ratios.reduce((a, b) => a + b, 0) / ratios.length).toFixed(3)} × the mean face (mean over ${ratios.length} faces)\n`,
  );
}
if (values.json) await writeFile(values.json, JSON.stringify(records));
reconstructor.dispose();
detector.dispose();
