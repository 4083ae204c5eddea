import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNpy, parseObjMesh, parsePickedPoints } from '../../src/eval/benchmark-files.ts';
import { cropPointsToSphere, evaluateNowScan, NOW_LANDMARK_IBUG_INDICES, nowCropSphere } from '../../src/eval/now-protocol.ts';
import { summarizeErrors } from '../../src/eval/error-statistics.ts';
import { applySimilarityTransform } from '../../src/geometry/similarity-alignment.ts';
import { rotationFromEuler } from '../../src/geometry/rotation.ts';
import { computeVertexNormalsArray } from '../../src/geometry/vertex-normals.ts';
import { trianglesWithinVertexRange } from '../../src/morphable/morphable-model.ts';
import { StudioRandom } from '../../src/shading/studio-random.ts';
import { sharedModel } from '../helpers/model.ts';
import { runCli } from '../helpers/cli.ts';

/** A minimal .npy (format 1.0, little-endian float32) writer for the test. */
function writeNpy(data: Float64Array, shape: number[]): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const bytes = new Uint8Array(10 + header.length + 4 * data.length);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(bytes.buffer).setUint16(8, header.length, true);
  bytes.set(new TextEncoder().encode(header), 10);
  const view = new DataView(bytes.buffer);
  data.forEach((v, i) => view.setFloat32(10 + header.length + 4 * i, v, true));
  return bytes;
}

const toObj = (vertices: ArrayLike<number>, triangles?: Uint32Array) => {
  let text = '';
  for (let i = 0; i < vertices.length; i += 3) text += `v ${vertices[i]} ${vertices[i + 1]} ${vertices[i + 2]}\n`;
  if (triangles) for (let t = 0; t < triangles.length; t += 3) text += `f ${triangles[t] + 1} ${triangles[t + 1] + 1} ${triangles[t + 2] + 1}\n`;
  return text;
};
const toPp = (points: ArrayLike<number>) =>
  `<!DOCTYPE PickedPoints>\n<PickedPoints>\n <DocumentData>\n  <DataFileName name="scan.obj"/>\n </DocumentData>\n` +
  Array.from(
    { length: points.length / 3 },
    (_, k) => ` <point x="${points[3 * k]}" y="${points[3 * k + 1]}" z="${points[3 * k + 2]}" active="1" name="${k}"/>\n`,
  ).join('') +
  '</PickedPoints>\n';

/**
 * A fake NoW subject: the scan is the model's neutral face with each vertex pushed along its
 * normal by N(0, σ²) noise and 1 % outliers pushed 8 mm; the prediction is the clean neutral
 * mesh under a known similarity transform (metres, rotated, moved), with its 7 landmarks.
 */
async function fakeSubject() {
  const model = await sharedModel();
  const triangles = trianglesWithinVertexRange(model.triangles, model.narrowFaceVertexCount);
  const vertices = model.neutral.slice(0, 3 * model.narrowFaceVertexCount);
  const normals = computeVertexNormalsArray(vertices, triangles);
  const random = new StudioRandom(21);
  const sigma = 0.5;
  const scan = Float64Array.from(vertices);
  const displacement = new Float64Array(vertices.length / 3);
  for (let v = 0; v < displacement.length; v++) {
    displacement[v] = v % 100 === 0 ? 8 : sigma * random.normal();
    for (let k = 0; k < 3; k++) scan[3 * v + k] += displacement[v] * normals[3 * v + k];
  }
  const scanLandmarks = Float64Array.from(
    NOW_LANDMARK_IBUG_INDICES.flatMap((k) => Array.from(vertices.slice(3 * model.landmarkVertexIndices[k], 3 * model.landmarkVertexIndices[k] + 3))),
  );
  const truth = { scale: 0.001, rotation: rotationFromEuler(0.2, -0.4, 0.1), translation: Float64Array.from([0.01, -0.02, 0.3]) };
  const predicted = { vertices: applySimilarityTransform(vertices, truth), triangles };
  // The predicted landmarks are a little off (a real method never hits them exactly): ICP must fix it.
  const predictedLandmarks = applySimilarityTransform(
    scanLandmarks.map((v, i) => v + (i % 3 === 0 ? 1.5 : 0)),
    truth,
  );
  // Expected: |displacement| of the scan points inside the crop.
  const { centre, radius } = nowCropSphere(scanLandmarks);
  const kept: number[] = [];
  for (let v = 0; v < displacement.length; v++) {
    if (Math.hypot(scan[3 * v] - centre[0], scan[3 * v + 1] - centre[1], scan[3 * v + 2] - centre[2]) <= radius) kept.push(Math.abs(displacement[v]));
  }
  return { scan, scanLandmarks, predicted, predictedLandmarks, expected: summarizeErrors(kept), sigma, cropCount: kept.length, scanTriangles: triangles };
}

test('file parsers: OBJ, MeshLab .pp, .npy', () => {
  const mesh = parseObjMesh('# c\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nf 1/1 2/1 3/1 4/1\n');
  assert.deepEqual(Array.from(mesh.triangles), [0, 1, 2, 0, 2, 3]);
  assert.deepEqual(Array.from(parsePickedPoints(toPp([1, 2, 3, 4.5, -5, 6e-3]))), [1, 2, 3, 4.5, -5, 6e-3]);
  const npy = parseNpy(writeNpy(Float64Array.from([1, 2, 3, 4, 5, 6]), [2, 3]));
  assert.deepEqual(npy.shape, [2, 3]);
  assert.deepEqual(Array.from(npy.data), [1, 2, 3, 4, 5, 6]);
});

test('NoW crop keeps the sphere around the face centre', () => {
  const landmarks = [-45, 35, 86, -15, 35, 90, 15, 35, 90, 45, 35, 86, 0, -12, 115, -25, -40, 95, 25, -40, 95];
  const { centre, radius } = nowCropSphere(landmarks);
  assert.ok(Math.abs(centre[1] - (-12 + 0.3 * 47)) < 1e-9);
  assert.ok(Math.abs(radius - (1.4 * (90 + Math.hypot(47, 25))) / 2) < 1e-9);
  assert.equal(cropPointsToSphere([0, 0, 0, 1000, 0, 0], centre, 1e9).length, 6);
});

test('NoW protocol recovers the known scan noise after landmark + ICP alignment', async () => {
  const s = await fakeSubject();
  const { distances, transform } = evaluateNowScan(s.scan, s.scanLandmarks, s.predicted, s.predictedLandmarks);
  assert.equal(distances.length, s.cropCount);
  assert.ok(Math.abs(transform.scale - 1000) < 5, `scale ${transform.scale}`);
  const found = summarizeErrors(distances);
  // Distances to the surface are a bit below |displacement| where it curves; medians agree closely.
  assert.ok(Math.abs(found.median - s.expected.median) < 0.05, `median ${found.median} vs ${s.expected.median}`);
  assert.ok(Math.abs(found.mean - s.expected.mean) < 0.1, `mean ${found.mean} vs ${s.expected.mean}`);
  assert.ok(Math.abs(s.expected.median - 0.6745 * s.sigma) < 0.05);
});

test('facegar eval now reads the published layout and reports per subset', async () => {
  const s = await fakeSubject();
  const dir = await mkdtemp(join(tmpdir(), 'facegar-now-'));
  try {
    const data = join(dir, 'now'),
      predictions = join(dir, 'pred');
    await mkdir(join(data, 'scans', 'FaMoS_001'), { recursive: true });
    await mkdir(join(data, 'scans_lmks_onlypp', 'FaMoS_001'), { recursive: true });
    await writeFile(join(data, 'scans', 'FaMoS_001', 'natural_head_rotation.000001.obj'), toObj(s.scan, s.scanTriangles));
    await writeFile(join(data, 'scans_lmks_onlypp', 'FaMoS_001', 'natural_head_rotation.000001_picked_points.pp'), toPp(s.scanLandmarks));
    await writeFile(
      join(data, 'imagepathsvalidation.txt'),
      'FaMoS_001/multiview_neutral/IMG_0001.jpg\nFaMoS_001/selfie/IMG_0002.jpg\nFaMoS_001/selfie/IMG_0003.jpg\n',
    );
    for (const [subset, stem, format] of [
      ['multiview_neutral', 'IMG_0001', 'npy'],
      ['selfie', 'IMG_0002', 'txt'],
    ]) {
      await mkdir(join(predictions, 'FaMoS_001', subset), { recursive: true });
      await writeFile(join(predictions, 'FaMoS_001', subset, `${stem}.obj`), toObj(s.predicted.vertices, s.predicted.triangles));
      const landmarks =
        format === 'npy'
          ? writeNpy(s.predictedLandmarks, [7, 3])
          : Array.from({ length: 7 }, (_, k) => Array.from(s.predictedLandmarks.slice(3 * k, 3 * k + 3)).join(' ')).join('\n');
      await writeFile(join(predictions, 'FaMoS_001', subset, `${stem}.${format}`), landmarks);
    }
    const run = await runCli(['eval', 'now', '--data', data, '--predictions', predictions, '--json', '--quiet']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.scored, 2);
    assert.equal(result.missing, 1);
    assert.equal(result.subsets.multiview_neutral.images, 1);
    assert.equal(result.subsets.selfie.images, 1);
    assert.equal(result.subsets.multiview_expressions.images, 0);
    assert.ok(Math.abs(result.overall.medianMm - s.expected.median) < 0.05, `median ${result.overall.medianMm}`);
    const missingData = await runCli(['eval', 'now', '--data', join(dir, 'nope'), '--predictions', predictions]);
    assert.equal(missingData.code, 3);
    assert.match(missingData.stderr, /^facegar: NoW image list not found/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
