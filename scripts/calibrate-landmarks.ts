/**
 * Which model vertex does the detector mean by each iBUG-68 point? A detector's landmark
 * conventions (here FaceMesh through our 468→68 table) differ from the model's own landmark
 * vertices by several percent of the eye distance, and a fit then bends the face to absorb the
 * difference. This script renders studio photos with known geometry (a seed stream of its own,
 * hash('calibration', seed, i): never the benchmark's), runs the detector, and for every
 * landmark picks the face-area vertex whose projection lies closest to the detected point on
 * average. The jaw (0–16) too: on turned faces FaceMesh's jaw stays on a fixed line of the face,
 * inside the visible outline on the far side, so a fixed vertex matches it better than the
 * outline does (measured on studio renders with known geometry). Also the vertex under each of FaceMesh's 468 points (face oval excluded), for a dense landmark
 * term. `--open-mouths` more renders open the mouth (jawOpen, half of them with a smile): with
 * closed lips the upper and lower inner-lip vertices project to the same pixels, and a
 * calibration on the scenes' mostly closed mouths alone put inner-lip points 66–67 on the upper
 * lip, which open mouths then expose. `--set DIR[,DIR…]` adds photos of test-set folders (the
 * layout `facegar eval synthetic --set` reads, e.g. Blender Cycles renders from
 * scripts/render-cycles-set.py): FaceMesh places its points differently on different renderers,
 * and its placement on Cycles renders is closer to its placement on real photos (docs/tuning.md,
 * "Landmark vertices"). Only photos whose points the fit follows with these vertices count: FaceMesh
 * accepted the face and reads it as turned less than LANDMARK_MAP_FROM_YAW_DEG (the landmark map's
 * points and the model's own vertices take over from there), and the face is truly turned less
 * than 40° (a face FaceMesh misreads as frontal is the shape encoder's gate's case, and its points
 * are not where the face is). Output: src/morphable/detector-landmark-vertices.ts.
 *
 * `--check DIR[,DIR…]` then scores the vertices in use and the new ones on other sets (the same
 * photos count), and `--no-write` leaves the file as it is.
 *
 *   node --import tsx scripts/calibrate-landmarks.ts [--count 80] [--open-mouths 40] [--seed 1] [--set DIR[,DIR…]] [--check DIR[,DIR…]] [--no-write]
 */
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/engine/backend.ts';
import { loadMorphableModel } from '../src/io/node/load-morphable-model.ts';
import { loadDetectorModelFiles } from '../src/io/node/detector-models.ts';
import { writeFileAtomic } from '../src/io/node/atomic-write.ts';
import { createFaceDetector } from '../src/detect/index.ts';
import { renderStudioPhoto } from '../src/shading/studio-renderer.ts';
import { sampleStudioScene } from '../src/shading/studio-scene.ts';
import { hashSeed } from '../src/common/seeded-random.ts';
import { StudioRandom } from '../src/shading/studio-random.ts';
import { projectPointsArray, transformPointsArray } from '../src/geometry/camera.ts';
import { interOcularDistance } from '../src/api/reconstruct.ts';
import { LANDMARK_MAP_FROM_YAW_DEG } from '../src/api/landmark-source.ts';
import { meshYawDeg } from '../src/fit/landmark-reliability.ts';
import { listSetFaces, readSetFace } from '../src/io/node/synthetic-set-files.ts';
import type { RgbaImage } from '../src/common/image.ts';
import type { PinholeCamera } from '../src/geometry/camera.ts';
import type { DetectedFace } from '../src/detect/index.ts';
import type { BenchmarkTruth } from '../src/eval/benchmark-set.ts';
import { DETECTOR_LANDMARK_VERTICES } from '../src/morphable/detector-landmark-vertices.ts';

const argument = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const count = argument('--count', 80);
const openMouths = argument('--open-mouths', 40);
const seed = argument('--seed', 1);
/** The folders listed after `name` (comma-separated); [] without it; usage error and exit 2 when its value is missing. */
function folderList(name: string): string[] {
  const at = process.argv.indexOf(name);
  if (at < 0) return [];
  const value = process.argv[at + 1];
  if (value === undefined || value.startsWith('--')) {
    process.stderr.write(`${name} needs a comma-separated list of set folders\n`);
    process.exit(2);
  }
  return value.split(',').filter(Boolean);
}
const setDirs = folderList('--set');
const checkDirs = folderList('--check');
const write = !process.argv.includes('--no-write');
/** The vertices in use when the script started, for --check. */
const verticesInUse = Array.from(DETECTOR_LANDMARK_VERTICES);
/** Past this true yaw a face FaceMesh reads as near-frontal is one it misreads (see above). */
const MAX_TRUE_YAW_DEG = 40;

await initBackend();
const { model } = await loadMorphableModel();
// Only faces FaceMesh accepts: a fallback face's points would blur the calibration.
const detector = await createFaceDetector(await loadDetectorModelFiles(), { fallbackMinDetectionScore: 1 });
const V = model.vertexCount;
// Sum over photos of the normalised distance from every landmark to every vertex.
const distanceSums = new Float64Array(68 * V);
// FaceMesh's face-oval ring follows the silhouette: it has no fixed vertex. Every other mesh point does.
const FACE_OVAL = new Set([
  10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21,
  54, 103, 67, 109,
]);
const densePoints = Array.from({ length: 468 }, (_, i) => i).filter((i) => !FACE_OVAL.has(i));
const denseSums = new Float64Array(densePoints.length * V);
const ictSums = new Float64Array(68);
const expressionIndex = (name: string) => model.expressionNames.indexOf(name);
/** Open the mouth (jawOpen 0.15–0.6) and, in half the cases, add a smile (0.3–0.8 on both sides). */
function openMouth(expression: Float32Array, random: StudioRandom): void {
  expression[expressionIndex('jawOpen')] = random.uniform(0.15, 0.6);
  if (random.next() < 0.5) {
    const smile = random.uniform(0.3, 0.8);
    expression[expressionIndex('mouthSmile_L')] = smile;
    expression[expressionIndex('mouthSmile_R')] = smile;
  }
}
let used = 0,
  seen = 0;
/** The face whose points these vertices serve: FaceMesh's, read as turned less than the map's start. */
async function detectCounted(image: RgbaImage): Promise<DetectedFace | undefined> {
  const face = (await detector.detect(image))[0];
  return face && Math.abs(meshYawDeg(face.mesh468)) < LANDMARK_MAP_FROM_YAW_DEG ? face : undefined;
}
/** A photo with known geometry: every vertex's true pixel position, the true landmarks and yaw. */
interface TruthPhoto {
  image: RgbaImage;
  pixels: Float32Array;
  landmarks2d: Float32Array;
  yawDeg: number;
}
function truthPhoto(
  image: RgbaImage,
  truth: Pick<BenchmarkTruth, 'verticesModel' | 'rotation' | 'translationMm' | 'anglesDeg' | 'landmarks2d' | 'focalPx' | 'principalPointPx'>,
): TruthPhoto {
  const camera: PinholeCamera = { focalPx: truth.focalPx, principalPointPx: truth.principalPointPx, width: image.width, height: image.height };
  const pixels = projectPointsArray(transformPointsArray(truth.verticesModel, truth.rotation, truth.translationMm), camera);
  return { image, pixels, landmarks2d: truth.landmarks2d, yawDeg: truth.anglesDeg[1] };
}
/** The studio renders: `count` as drawn, then `openMouths` with the mouth opened. */
function* studioPhotos(): Generator<TruthPhoto> {
  for (let i = 0; i < count + openMouths; i++) {
    // Unoccluded faces: the question is where the detector puts a point it can see.
    const scene = sampleStudioScene(model, hashSeed('calibration', seed, i), { hairProbability: 0, handProbability: 0 });
    if (i >= count) openMouth(scene.expression, new StudioRandom(hashSeed('calibration-mouth', seed, i)));
    const { image, truth } = renderStudioPhoto(model, scene);
    yield truthPhoto(image, { ...truth, focalPx: truth.camera.focalPx, principalPointPx: truth.camera.principalPointPx });
  }
}
async function* setPhotos(dir: string): AsyncGenerator<TruthPhoto> {
  const stems = await listSetFaces(dir);
  for (let i = 0; i < stems.length; i++) {
    const { image, truth } = await readSetFace(dir, stems[i], model, i);
    yield truthPhoto(image, truth);
  }
}
/** The detected face of a photo that counts (turned less than MAX_TRUE_YAW_DEG, FaceMesh's points followed), else undefined. */
async function countedFace(photo: TruthPhoto): Promise<DetectedFace | undefined> {
  return Math.abs(photo.yawDeg) < MAX_TRUE_YAW_DEG ? detectCounted(photo.image) : undefined;
}
/** Add one photo's detections against its true geometry to the sums; false when it does not count. */
async function accumulate(photo: TruthPhoto): Promise<boolean> {
  const face = await countedFace(photo);
  if (!face) return false;
  const { pixels, landmarks2d } = photo;
  const scale = interOcularDistance(landmarks2d);
  for (let k = 0; k < 68; k++) {
    const x = face.landmarks68[2 * k],
      y = face.landmarks68[2 * k + 1];
    const row = k * V;
    for (let v = 0; v < V; v++) distanceSums[row + v] += Math.hypot(pixels[2 * v] - x, pixels[2 * v + 1] - y) / scale;
    const ict = model.landmarkVertexIndices[k];
    ictSums[k] += Math.hypot(pixels[2 * ict] - x, pixels[2 * ict + 1] - y) / scale;
  }
  densePoints.forEach((point, j) => {
    const x = face.mesh468[3 * point],
      y = face.mesh468[3 * point + 1];
    const row = j * V;
    for (let v = 0; v < V; v++) denseSums[row + v] += Math.hypot(pixels[2 * v] - x, pixels[2 * v + 1] - y) / scale;
  });
  return true;
}
const sources: string[] = [];
/** Add every photo of `photos` that counts; `label` names them in the generated file. */
async function calibrateOn(photos: Iterable<TruthPhoto> | AsyncIterable<TruthPhoto>, label: string): Promise<void> {
  for await (const photo of photos) {
    seen++;
    if (await accumulate(photo)) used++;
    process.stderr.write(`\rcalibration photos: ${used}/${seen}`);
  }
  sources.push(label);
}
if (count + openMouths > 0) await calibrateOn(studioPhotos(), `studio renders, seed ${seed}: ${count} as drawn, ${openMouths} with the mouth opened`);
for (const dir of setDirs) await calibrateOn(setPhotos(dir), `the set ${basename(dir)}`);
process.stderr.write('\n');
if (used === 0) {
  process.stderr.write('no photo counted: nothing to calibrate on (see the filters above)\n');
  process.exit(1);
}
const vertices = Array.from(model.landmarkVertexIndices);
let before = 0,
  after = 0,
  jawBefore = 0,
  jawAfter = 0;
for (let k = 0; k < 68; k++) {
  let best = 0;
  for (let v = 1; v < V; v++) if (distanceSums[k * V + v] < distanceSums[k * V + best]) best = v;
  vertices[k] = best;
  if (k < 17) {
    jawBefore += ictSums[k] / used / 17;
    jawAfter += distanceSums[k * V + best] / used / 17;
  } else {
    before += ictSums[k] / used / 51;
    after += distanceSums[k * V + best] / used / 51;
  }
}
console.log(
  `inner landmarks: mean detector-to-vertex distance ${(100 * before).toFixed(2)} % of the eye distance with the model's own vertices, ${(100 * after).toFixed(2)} % with the calibrated ones (${used} photos)`,
);
console.log(`jaw landmarks: ${(100 * jawBefore).toFixed(2)} % with the model's own vertices, ${(100 * jawAfter).toFixed(2)} % with the calibrated ones`);

const denseVertices = new Array(468).fill(-1);
let denseError = 0;
densePoints.forEach((point, j) => {
  let best = 0;
  for (let v = 1; v < V; v++) if (denseSums[j * V + v] < denseSums[j * V + best]) best = v;
  denseVertices[point] = best;
  denseError += denseSums[j * V + best] / used / densePoints.length;
});
console.log(
  `FaceMesh points (${densePoints.length}, face oval excluded): mean distance to their vertices ${(100 * denseError).toFixed(2)} % of the eye distance`,
);

/** Mean distance (% of the eye distance) of the inner points and of the jaw to their vertices. */
function meanDistances(face: DetectedFace, pixels: Float32Array, scale: number, of: readonly number[]): [number, number] {
  let inner = 0,
    jaw = 0;
  for (let k = 0; k < 68; k++) {
    const d = Math.hypot(pixels[2 * of[k]] - face.landmarks68[2 * k], pixels[2 * of[k] + 1] - face.landmarks68[2 * k + 1]) / scale;
    if (k < 17) jaw += d / 17;
    else inner += d / 51;
  }
  return [100 * inner, 100 * jaw];
}
for (const dir of checkDirs) {
  const sums = [0, 0, 0, 0];
  let checked = 0;
  for await (const photo of setPhotos(dir)) {
    const face = await countedFace(photo);
    if (!face) continue;
    const scale = interOcularDistance(photo.landmarks2d);
    [...meanDistances(face, photo.pixels, scale, verticesInUse), ...meanDistances(face, photo.pixels, scale, vertices)].forEach((d, i) => (sums[i] += d));
    checked++;
  }
  if (checked === 0) {
    console.log(`check ${basename(dir)}: no photo counted`);
    continue;
  }
  const [innerBefore, jawBeforeCheck, innerAfter, jawAfterCheck] = sums.map((sum) => (sum / checked).toFixed(2));
  console.log(
    `check ${basename(dir)} (${checked} photos): inner landmarks ${innerBefore} % of the eye distance from the vertices in use, ${innerAfter} % from the new ones; jaw ${jawBeforeCheck} → ${jawAfterCheck} %`,
  );
}
if (!write) process.exit(0);

const out = resolve(fileURLToPath(new URL('../src/morphable/detector-landmark-vertices.ts', import.meta.url)));
/** Comment lines of at most 100 characters. */
const commentLines = (text: string) =>
  text
    .split(' ')
    .reduce<string[]>((lines, word) => {
      const last = lines.length - 1;
      if (last >= 0 && lines[last].length + word.length + 1 <= 97) lines[last] += ` ${word}`;
      else lines.push(word);
      return lines;
    }, [])
    .map((line) => `// ${line}`)
    .join('\n');
const header = commentLines(
  `Generated by scripts/calibrate-landmarks.ts (--count ${count} --open-mouths ${openMouths} --seed ${seed}${setDirs.length ? ` --set ${setDirs.map((d) => basename(d)).join(',')}` : ''}); do not edit by hand. ` +
    `ICT-FaceKit face-area vertex for each iBUG-68 point as the FaceMesh-based detector places it: chosen on ${used} photos with known geometry ` +
    `(${sources.join('; ')}) whose points the fit follows with these vertices, by mean distance to the detections (inner points 17–67: ` +
    `${(100 * after).toFixed(2)} % of the eye distance from these, ${(100 * before).toFixed(2)} % from the model's own landmark vertices; jaw points 0–16: ` +
    `${(100 * jawAfter).toFixed(2)} % and ${(100 * jawBefore).toFixed(2)} %). The jaw stays fixed during fitting.`,
);
await writeFileAtomic(
  out,
  `${header}
export const DETECTOR_LANDMARK_VERTICES: readonly number[] = [${vertices.join(', ')}];

${commentLines(`The vertex under each of FaceMesh's 468 points, chosen the same way (mean distance ${(100 * denseError).toFixed(2)} % of the eye distance); -1 for the face-oval ring, which follows the outline.`)}
export const DETECTOR_MESH_VERTICES: readonly number[] = [${denseVertices.join(', ')}];
`,
);
console.log(`wrote ${out}`);
