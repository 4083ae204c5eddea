import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateMiccScan, findNoseTip, rootMeanSquare } from '../../src/eval/micc-protocol.ts';
import { cropPointsToSphere, NOW_LANDMARK_IBUG_INDICES } from '../../src/eval/now-protocol.ts';
import { parseVrmlMesh } from '../../src/eval/vrml-mesh.ts';
import { applySimilarityTransform } from '../../src/geometry/similarity-alignment.ts';
import { TriangleMeshIndex } from '../../src/geometry/triangle-mesh-index.ts';
import { rotationFromEuler } from '../../src/geometry/rotation.ts';
import { computeVertexNormalsArray } from '../../src/geometry/vertex-normals.ts';
import { StudioRandom } from '../../src/shading/studio-random.ts';
import { sharedModel } from '../helpers/model.ts';
import { runCli } from '../helpers/cli.ts';

const deg = Math.PI / 180;
const toObj = (vertices: ArrayLike<number>, triangles: Uint32Array) => {
  let text = '';
  for (let i = 0; i < vertices.length; i += 3) text += `v ${vertices[i]} ${vertices[i + 1]} ${vertices[i + 2]}\n`;
  for (let t = 0; t < triangles.length; t += 3) text += `f ${triangles[t] + 1} ${triangles[t + 1] + 1} ${triangles[t + 2] + 1}\n`;
  return text;
};
const toWrl = (vertices: ArrayLike<number>, triangles: Uint32Array) => {
  const points = Array.from({ length: vertices.length / 3 }, (_, v) => `${vertices[3 * v]} ${vertices[3 * v + 1]} ${vertices[3 * v + 2]}`).join(',\n');
  const faces = Array.from({ length: triangles.length / 3 }, (_, t) => `${triangles[3 * t]}, ${triangles[3 * t + 1]}, ${triangles[3 * t + 2]}, -1`).join(',\n');
  return (
    `#VRML V2.0 utf8\n# a scan\nTransform { children [ Shape { appearance Appearance { texture ImageTexture { url "tex.png" } }\n` +
    `geometry IndexedFaceSet { solid FALSE creaseAngle 0.5\ncoord DEF scanCoord Coordinate { point [\n${points}\n] }\n` +
    `texCoord TextureCoordinate { point [ 0 0, 1 0 ] }\ncoordIndex [\n${faces}\n] texCoordIndex [ 0, 1, 0, -1 ] } } ] }\n`
  );
};
const toPp = (points: ArrayLike<number>) =>
  `<!DOCTYPE PickedPoints>\n<PickedPoints>\n` +
  Array.from(
    { length: points.length / 3 },
    (_, k) => ` <point x="${points[3 * k]}" y="${points[3 * k + 1]}" z="${points[3 * k + 2]}" active="1" name="${k}"/>\n`,
  ).join('') +
  '</PickedPoints>\n';

test('VRML reader: IndexedFaceSets with DEF/USE, comments, quads and ignored fields', () => {
  const text =
    `#VRML V2.0 utf8\nShape { geometry IndexedFaceSet { ccw TRUE coord DEF c Coordinate { point [ 0 0 0, 1 0 0, 1 1 0, 0 1 0 ] } # comment\n` +
    `normal Normal { vector [ 0 0 1 ] } coordIndex [ 0 1 2 3 -1 ] } }\nShape { geometry IndexedFaceSet { coord USE c coordIndex [ 2, 1, 0, -1 ] } }\n`;
  const mesh = parseVrmlMesh(text);
  assert.equal(mesh.vertices.length, 24);
  assert.deepEqual(Array.from(mesh.triangles), [0, 1, 2, 0, 2, 3, 6, 5, 4]);
  assert.throws(() => parseVrmlMesh('#VRML V2.0 utf8\nShape { }'), /no IndexedFaceSet/);
  assert.throws(() => parseVrmlMesh('IndexedFaceSet { coord Coordinate { point [ 0 0 0 ] } coordIndex [ 0 1 5 -1 ] }'), /outside/);
});

/**
 * A fake MICC subject built from the model: the scan is the neutral full-face mesh with every
 * vertex pushed along its normal by N(0, 0.5²) mm, 1 % of them by 6 mm (outliers), an isolated
 * spike 15 mm in front of the nose (must not be taken as the nose tip) and 300 far points 130 mm
 * below the nose (a shoulder the crop must drop). The expected RMSE is the distance of the
 * cropped scan points to the clean mesh in its true place.
 */
async function fakeSubject() {
  const model = await sharedModel();
  const triangles = model.triangles;
  const clean = Float64Array.from(model.neutral.subarray(0, 3 * model.vertexCount));
  const normals = computeVertexNormalsArray(Float32Array.from(clean), triangles);
  const random = new StudioRandom(5);
  const surface = Float64Array.from(clean);
  for (let v = 0; v < model.vertexCount; v++) {
    const d = v % 100 === 7 ? 6 : 0.5 * random.normal();
    for (let k = 0; k < 3; k++) surface[3 * v + k] += d * normals[3 * v + k];
  }
  const trueTip = findNoseTip(clean);
  const spike = [trueTip[0], trueTip[1], trueTip[2] + 15];
  const shoulder = Array.from({ length: 300 }, (_, i) => [trueTip[0] - 60 + (i % 20) * 6, trueTip[1] - 130, trueTip[2] - 80 + Math.floor(i / 20) * 4]).flat();
  const scan = Float64Array.from([...surface, ...spike, ...shoulder]);
  const cropped = cropPointsToSphere(scan, trueTip, 95);
  const expectedRmse = rootMeanSquare(new TriangleMeshIndex(clean, triangles).distancesFrom(cropped));
  const landmarks = Float64Array.from(
    NOW_LANDMARK_IBUG_INDICES.flatMap((k) => Array.from(clean.slice(3 * model.landmarkVertexIndices[k], 3 * model.landmarkVertexIndices[k] + 3))),
  );
  return { model, clean, triangles, scan, scanTriangles: triangles, cropCount: cropped.length / 3, expectedRmse, landmarks, trueTip };
}

test('MICC protocol: known rigid transforms, noise, outliers and crop give the known RMSE', async () => {
  const s = await fakeSubject();
  // The noise moves the found tip by a fraction of a mm; the spike must not be taken.
  const tip = findNoseTip(s.scan);
  assert.ok(Math.hypot(tip[0] - s.trueTip[0], tip[1] - s.trueTip[1], tip[2] - s.trueTip[2]) < 2, `nose tip ${tip} vs ${s.trueTip}`);
  assert.ok(s.expectedRmse > 0.6 && s.expectedRmse < 1.2, `expected ${s.expectedRmse}`);
  // Centroid start: a small unknown pose.
  const small = { scale: 1, rotation: rotationFromEuler(4 * deg, -6 * deg, 3 * deg), translation: Float64Array.from([5, -8, 12]) };
  const predicted = { vertices: applySimilarityTransform(s.clean, small), triangles: s.triangles };
  const byCentroid = evaluateMiccScan(s.scan, predicted);
  assert.equal(byCentroid.initialisation, 'centroid');
  assert.ok(Math.abs(byCentroid.distances.length - s.cropCount) < 0.01 * s.cropCount, `${byCentroid.distances.length} cropped points vs ${s.cropCount}`);
  assert.ok(Math.abs(byCentroid.rmseMm - s.expectedRmse) < 0.02, `centroid RMSE ${byCentroid.rmseMm} vs ${s.expectedRmse}`);
  // Landmark start: a large pose (centroid start would not converge), landmarks off by 2 mm.
  const large = { scale: 1, rotation: rotationFromEuler(30 * deg, 70 * deg, -20 * deg), translation: Float64Array.from([100, 40, -300]) };
  const far = { vertices: applySimilarityTransform(s.clean, large), triangles: s.triangles };
  const predictedLandmarks = applySimilarityTransform(
    s.landmarks.map((v, i) => v + (i % 3 === 1 ? 2 : 0)),
    large,
  );
  const byLandmarks = evaluateMiccScan(s.scan, far, { scan: s.landmarks, predicted: predictedLandmarks });
  assert.ok(Math.abs(byLandmarks.rmseMm - s.expectedRmse) < 0.02, `landmark RMSE ${byLandmarks.rmseMm} vs ${s.expectedRmse}`);
  // A wrong shape scores worse: a prediction 10 % too wide.
  const wide = { vertices: s.clean.map((v, i) => (i % 3 === 0 ? 1.1 * v : v)), triangles: s.triangles };
  assert.ok(evaluateMiccScan(s.scan, wide).rmseMm > s.expectedRmse + 0.5);
});

test('facegar eval micc reads subject folders (OBJ and VRML scans) and reports per setting', async () => {
  const s = await fakeSubject();
  const dir = await mkdtemp(join(tmpdir(), 'facegar-micc-'));
  try {
    const data = join(dir, 'micc'),
      predictions = join(dir, 'pred');
    await mkdir(join(data, 'subject_01', 'Model', 'frontal1', 'obj'), { recursive: true });
    await writeFile(join(data, 'subject_01', 'Model', 'frontal1', 'obj', '110920150452.obj'), toObj(s.scan, s.scanTriangles));
    await writeFile(join(data, 'subject_01', 'Model', 'frontal1', 'obj', '110920150452_picked_points.pp'), toPp(s.landmarks));
    await mkdir(join(data, 'subject_02', 'Model', 'frontal1', 'vrml'), { recursive: true });
    await writeFile(join(data, 'subject_02', 'Model', 'frontal1', 'vrml', '110920151703.wrl'), toWrl(s.scan, s.scanTriangles));
    const small = { scale: 1, rotation: rotationFromEuler(-3 * deg, 5 * deg, 2 * deg), translation: Float64Array.from([-4, 6, 9]) };
    const large = { scale: 1, rotation: rotationFromEuler(10 * deg, 80 * deg, 0), translation: Float64Array.from([50, 0, 0]) };
    await mkdir(join(predictions, 'subject_01'), { recursive: true });
    await mkdir(join(predictions, 'subject_02'), { recursive: true });
    await writeFile(join(predictions, 'subject_01', 'Indoor-Cooperative.obj'), toObj(applySimilarityTransform(s.clean, large), s.triangles));
    const landmarks = applySimilarityTransform(s.landmarks, large);
    await writeFile(
      join(predictions, 'subject_01', 'Indoor-Cooperative.txt'),
      Array.from({ length: 7 }, (_, k) => Array.from(landmarks.slice(3 * k, 3 * k + 3)).join(' ')).join('\n'),
    );
    await writeFile(join(predictions, 'subject_02', 'PTZ-Outdoor.obj'), toObj(applySimilarityTransform(s.clean, small), s.triangles));
    const run = await runCli(['eval', 'micc', '--data', data, '--predictions', predictions, '--json', '--quiet']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.scored, 2);
    assert.equal(result.missing, 4);
    assert.equal(result.settings.cooperative.subjects, 1);
    assert.equal(result.settings.indoor.subjects, 0);
    assert.equal(result.settings.outdoor.subjects, 1);
    assert.deepEqual(
      result.perSubject.map((r: { initialisation: string }) => r.initialisation),
      ['landmarks', 'centroid'],
    );
    assert.ok(Math.abs(result.settings.cooperative.rmseMm - s.expectedRmse) < 0.02, `cooperative ${result.settings.cooperative.rmseMm}`);
    assert.ok(Math.abs(result.settings.outdoor.rmseMm - s.expectedRmse) < 0.02, `outdoor ${result.settings.outdoor.rmseMm}`);
    assert.ok(Math.abs(result.overall.rmseMm - s.expectedRmse) < 0.02);
    const missing = await runCli(['eval', 'micc', '--data', join(dir, 'nope'), '--predictions', predictions]);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /^facegar: MICC folder not found/);
    const usage = await runCli(['eval', 'micc', '--data', data]);
    assert.equal(usage.code, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
