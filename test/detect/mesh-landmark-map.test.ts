// The landmark map (FaceMesh's mesh → the model's own 68 landmarks): its ridge solver against a
// hand-computed case, the frame it works in, its file checks, and the shipped map on turned
// studio renders, where it must land nearer the model's true landmarks than FaceMesh's own points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyMeshLandmarkMap,
  applyMeshLandmarkMapMirrored,
  decodeMeshLandmarkMap,
  encodeMeshLandmarkMap,
  fitRidge,
  IBUG68_MIRROR,
  MESH_MAP_FEATURE_COUNT,
} from '../../src/detect/mesh-landmark-map.ts';
import { createFaceDetector } from '../../src/detect/index.ts';
import { meshToIbug68 } from '../../src/detect/ibug68.ts';
import { ModelUnavailableError } from '../../src/common/errors.ts';
import { hashSeed } from '../../src/common/seeded-random.ts';
import { projectPointsArray, transformPointsArray } from '../../src/geometry/camera.ts';
import { loadDetectorModelFiles, SHIPPED_LANDMARK_MAP } from '../../src/io/node/detector-models.ts';
import { renderStudioPhoto } from '../../src/shading/studio-renderer.ts';
import { sampleStudioScene } from '../../src/shading/studio-scene.ts';
import { aflwNme } from '../../src/eval/aflw2000-protocol.ts';
import { sharedModel } from '../helpers/model.ts';

test('ridge regression matches the normal equations worked by hand', () => {
  // y = 2x, x = 1, 2, 3, a constant column. λ = 0: w = 2, b = 0. λ = 1 on w only:
  // [15 6; 6 3][w b]ᵀ = [28 12]ᵀ → w = b = 4/3.
  const features = Float32Array.from([1, 1, 2, 1, 3, 1]);
  const targets = Float32Array.from([2, 4, 6]);
  const exact = fitRidge(features, targets, 3, 0, 1);
  assert.ok(Math.abs(exact[0] - 2) < 1e-6 && Math.abs(exact[1]) < 1e-6, `λ 0: ${Array.from(exact)}`);
  const shrunk = fitRidge(features, targets, 3, 1, 1);
  assert.ok(Math.abs(shrunk[0] - 4 / 3) < 1e-6 && Math.abs(shrunk[1] - 4 / 3) < 1e-6, `λ 1: ${Array.from(shrunk)}`);
  // Two targets at once, and a singular system refused.
  const two = fitRidge(features, Float32Array.from([2, 0, 4, 1, 6, 2]), 3, 0, 1);
  assert.ok(Math.abs(two[0] - 2) < 1e-6 && Math.abs(two[1] - 1) < 1e-6 && Math.abs(two[3] + 1) < 1e-6, `two targets: ${Array.from(two)}`);
  assert.throws(() => fitRidge(Float32Array.from([0, 1, 0, 1]), Float32Array.from([1, 2]), 2, 0, 1), RangeError);
});

test('the map works in the face frame: a map that copies mesh points gives them back, and moving the face moves its output alike', () => {
  // A mesh: points on a rough oval with depth; the weights copy mesh point m_k's x, y to output k.
  const mesh = new Float32Array(468 * 3);
  for (let i = 0; i < 468; i++) {
    const a = (i * 2.399) % (2 * Math.PI),
      r = 40 + ((i * 7) % 30);
    mesh.set([200 + r * Math.cos(a), 220 + 1.3 * r * Math.sin(a), ((i * 13) % 17) - 8], 3 * i);
  }
  const landmarks68 = meshToIbug68(mesh);
  const weights = new Float32Array(MESH_MAP_FEATURE_COUNT * 136);
  const source = (k: number) => (k * 7) % 468;
  for (let k = 0; k < 68; k++) {
    weights[3 * source(k) * 136 + 2 * k] = 1;
    weights[(3 * source(k) + 1) * 136 + 2 * k + 1] = 1;
  }
  const out = applyMeshLandmarkMap({ weights }, mesh, landmarks68);
  for (let k = 0; k < 68; k++) {
    assert.ok(Math.hypot(out[2 * k] - mesh[3 * source(k)], out[2 * k + 1] - mesh[3 * source(k) + 1]) < 1e-3, `point ${k}`);
  }
  // Any weights: turn the photo by 0.4 rad, scale by 1.7 and shift it; the output follows.
  for (let i = 0; i < weights.length; i++) weights[i] = Math.sin(i * 12.9898) * 0.01;
  const before = applyMeshLandmarkMap({ weights }, mesh, landmarks68);
  const [c, s, scale, dx, dy] = [Math.cos(0.4), Math.sin(0.4), 1.7, 35, -20];
  const move = (x: number, y: number): [number, number] => [scale * (c * x - s * y) + dx, scale * (s * x + c * y) + dy];
  const moved = new Float32Array(mesh.length);
  for (let i = 0; i < 468; i++) moved.set([...move(mesh[3 * i], mesh[3 * i + 1]), scale * mesh[3 * i + 2]], 3 * i);
  const after = applyMeshLandmarkMap({ weights }, moved, meshToIbug68(moved));
  for (let k = 0; k < 68; k++) {
    const [x, y] = move(before[2 * k], before[2 * k + 1]);
    assert.ok(Math.hypot(after[2 * k] - x, after[2 * k + 1] - y) < 1e-2, `point ${k} moved with the face`);
  }
});

test('the mirrored reading: a mesh FaceMesh returns through a mirrored crop reads as the mirror of its own reading, left and right names swapped', () => {
  // FaceMesh in a mirrored crop sees the mirror image of the face; its points, taken back to photo
  // pixels, are a proper face mesh reflected about the crop's axis with each point keeping the
  // name it has on the mirror image. Here: a mesh P, reflected about x = W / 2.
  const width = 500;
  const mesh = new Float32Array(468 * 3);
  for (let i = 0; i < 468; i++) {
    const a = (i * 2.399) % (2 * Math.PI),
      r = 40 + ((i * 7) % 30);
    mesh.set([230 + r * Math.cos(a), 220 + 1.3 * r * Math.sin(a) + 0.2 * r * Math.cos(a), ((i * 13) % 17) - 8], 3 * i);
  }
  const weights = Float32Array.from({ length: MESH_MAP_FEATURE_COUNT * 136 }, (_, i) => Math.sin(i * 12.9898) * 0.01);
  const reading = applyMeshLandmarkMap({ weights }, mesh, meshToIbug68(mesh));
  const mirrored = applyMeshLandmarkMapMirrored(
    { weights },
    Float32Array.from(mesh, (v, i) => (i % 3 === 0 ? width - v : v)),
  );
  let leftRightApart = 0;
  for (let k = 0; k < 68; k++) {
    const m = IBUG68_MIRROR[k];
    assert.ok(Math.hypot(mirrored[2 * k] - (width - reading[2 * m]), mirrored[2 * k + 1] - reading[2 * m + 1]) < 1e-2, `point ${k}`);
    leftRightApart += Math.hypot(reading[2 * k] - reading[2 * m], reading[2 * k + 1] - reading[2 * m + 1]);
  }
  assert.ok(leftRightApart > 10, 'left and right points differ, so a wrong name would show');
});

test('map files: the round trip keeps the weights; a wrong size, NaN or a huge weight is refused', async () => {
  const weights = Float32Array.from({ length: MESH_MAP_FEATURE_COUNT * 136 }, (_, i) => (i % 11) - 5);
  assert.deepEqual(decodeMeshLandmarkMap(encodeMeshLandmarkMap({ weights })).weights, weights);
  assert.throws(() => decodeMeshLandmarkMap(new Uint8Array(100)), /bytes of float32 weights/);
  const bad = encodeMeshLandmarkMap({ weights });
  new DataView(bad.buffer).setFloat32(40, Number.NaN, true);
  assert.throws(() => decodeMeshLandmarkMap(bad), /finite weights/);
  new DataView(bad.buffer).setFloat32(40, 1e6, true);
  assert.throws(() => decodeMeshLandmarkMap(bad), /finite weights/);
  // The mirror table pairs left and right and keeps the midline.
  assert.deepEqual(
    IBUG68_MIRROR.map((m) => IBUG68_MIRROR[m]),
    IBUG68_MIRROR.map((_, k) => k),
  );
  for (const k of [8, 27, 30, 33, 51, 57, 62, 66]) assert.equal(IBUG68_MIRROR[k], k);

  const work = await mkdtemp(join(tmpdir(), 'facegar-map-'));
  try {
    await writeFile(join(work, 'short.bin'), new Uint8Array(1000));
    await assert.rejects(loadDetectorModelFiles({ landmarkMap: join(work, 'short.bin') }), ModelUnavailableError);
    await assert.rejects(loadDetectorModelFiles({ landmarkMap: work }), ModelUnavailableError);
    assert.equal((await loadDetectorModelFiles({ landmarkMap: false })).landmarkMap, undefined);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test("the shipped map: on turned studio renders its points are nearer the model's true landmarks than FaceMesh's", { timeout: 120_000 }, async () => {
  const files = await loadDetectorModelFiles();
  assert.ok(files.landmarkMap, `the map ships at ${SHIPPED_LANDMARK_MAP}`);
  const model = await sharedModel();
  const detector = await createFaceDetector(files);
  try {
    let facemeshSum = 0,
      mapSum = 0,
      count = 0;
    // Seed 3: a stream the map was not fitted on (it was fitted on hash("aflw-synthetic", 7, i)).
    for (const [i, yawDeg] of [-70, -55, 50, 65, 80].entries()) {
      const scene = sampleStudioScene(model, hashSeed('mesh-landmark-map-test', 3, i), { width: 400, height: 400, maxYawDeg: 90, yawDeg });
      const { image, truth } = renderStudioPhoto(model, scene);
      const points = Float32Array.from(
        Array.from(model.landmarkVertexIndices).flatMap((v) => [truth.verticesModel[3 * v], truth.verticesModel[3 * v + 1], truth.verticesModel[3 * v + 2]]),
      );
      const truth68 = projectPointsArray(transformPointsArray(points, truth.rotation, truth.translationMm), truth.camera);
      const face = (await detector.detect(image))[0];
      if (!face) continue;
      assert.ok(face.modelLandmarks68 && face.modelLandmarks68.length === 136);
      facemeshSum += aflwNme(face.landmarks68, truth68);
      mapSum += aflwNme(face.modelLandmarks68, truth68);
      count++;
    }
    assert.ok(count >= 4, `found ${count} of 5 turned faces`);
    assert.ok(
      mapSum < 0.8 * facemeshSum,
      `NME ${((100 * mapSum) / count).toFixed(2)} % (map) vs ${((100 * facemeshSum) / count).toFixed(2)} % (FaceMesh's 68 points)`,
    );
  } finally {
    detector.dispose();
  }
});
