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
 * lip, which open mouths then expose. Output: src/morphable/detector-landmark-vertices.ts.
 *
 *   node --import tsx scripts/calibrate-landmarks.ts [--count 80] [--open-mouths 40] [--seed 1]
 */
import { resolve } from 'node:path';
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

const argument = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const count = argument('--count', 80);
const openMouths = argument('--open-mouths', 40);
const seed = argument('--seed', 1);

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
let used = 0;
for (let i = 0; i < count + openMouths; i++) {
  // Unoccluded faces: the question is where the detector puts a point it can see.
  const scene = sampleStudioScene(model, hashSeed('calibration', seed, i), { hairProbability: 0, handProbability: 0 });
  if (i >= count) openMouth(scene.expression, new StudioRandom(hashSeed('calibration-mouth', seed, i)));
  const render = renderStudioPhoto(model, scene);
  const face = (await detector.detect(render.image))[0];
  if (!face) continue;
  const { truth } = render;
  const pixels = projectPointsArray(transformPointsArray(truth.verticesModel, truth.rotation, truth.translationMm), truth.camera);
  const scale = interOcularDistance(truth.landmarks2d);
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
  used++;
  process.stderr.write(`\rcalibration photos: ${used}/${i + 1}`);
}
process.stderr.write('\n');
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

const out = resolve(fileURLToPath(new URL('../src/morphable/detector-landmark-vertices.ts', import.meta.url)));
await writeFileAtomic(
  out,
  `// Generated by scripts/calibrate-landmarks.ts (--count ${count} --open-mouths ${openMouths} --seed ${seed}); do not edit by hand.
// ICT-FaceKit face-area vertex for each iBUG-68 point as the FaceMesh-based detector places it:
// chosen on ${used} studio renders with known geometry (mean distance to the detections, inner
// points 17–67: ${(100 * before).toFixed(2)} % → ${(100 * after).toFixed(2)} % of the eye distance; jaw points 0–16:
// ${(100 * jawBefore).toFixed(2)} % → ${(100 * jawAfter).toFixed(2)} %). The jaw stays fixed during fitting.
export const DETECTOR_LANDMARK_VERTICES: readonly number[] = [${vertices.join(', ')}];

// The vertex under each of FaceMesh's 468 points, chosen the same way (mean distance
// ${(100 * denseError).toFixed(2)} % of the eye distance); -1 for the face-oval ring, which follows the outline.
export const DETECTOR_MESH_VERTICES: readonly number[] = [${denseVertices.join(', ')}];
`,
);
console.log(`wrote ${out}`);
