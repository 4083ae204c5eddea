import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closestPointOnTriangle } from '../../src/geometry/point-triangle-distance.ts';
import { TriangleMeshIndex } from '../../src/geometry/triangle-mesh-index.ts';
import {
  applySimilarityTransform,
  estimateSimilarityTransform,
  invertSimilarityTransform,
  composeSimilarityTransforms,
  rotationAngleDeg,
} from '../../src/geometry/similarity-alignment.ts';
import { alignMeshToPoints } from '../../src/geometry/icp.ts';
import { rotationFromEuler } from '../../src/geometry/rotation.ts';
import { trianglesWithinVertexRange } from '../../src/morphable/morphable-model.ts';
import { StudioRandom } from '../../src/shading/studio-random.ts';
import { sharedModel } from '../helpers/model.ts';

type V3 = [number, number, number];
const sub = (a: V3, b: V3): V3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const dot = (a: V3, b: V3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: V3, b: V3): V3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

/** Independent reference: min of (plane projection when inside) and the three segment distances. */
function referenceDistanceSquared(p: V3, a: V3, b: V3, c: V3): number {
  const segment = (s: V3, e: V3) => {
    const d = sub(e, s);
    const t = Math.min(1, Math.max(0, dot(sub(p, s), d) / dot(d, d)));
    const q: V3 = [s[0] + t * d[0], s[1] + t * d[1], s[2] + t * d[2]];
    return dot(sub(p, q), sub(p, q));
  };
  let best = Math.min(segment(a, b), segment(b, c), segment(c, a));
  const n = cross(sub(b, a), sub(c, a));
  const nn = dot(n, n);
  const h = dot(sub(p, a), n) / nn;
  const q: V3 = [p[0] - h * n[0], p[1] - h * n[1], p[2] - h * n[2]];
  const inside = dot(cross(sub(b, a), sub(q, a)), n) >= 0 && dot(cross(sub(c, b), sub(q, b)), n) >= 0 && dot(cross(sub(a, c), sub(q, c)), n) >= 0;
  if (inside) best = Math.min(best, h * h * nn);
  return best;
}

test('closest point on a triangle matches the reference in all seven Voronoi regions', () => {
  const a: V3 = [0, 0, 0],
    b: V3 = [4, 0, 0],
    c: V3 = [1, 3, 0];
  const out = new Float64Array(3);
  // One point per region: near each vertex, beyond each edge, above the face.
  const cases: [V3, V3][] = [
    [[-1, -1, 1], a],
    [[5, -1, 0.5], b],
    [[1, 4, -2], c],
    [
      [2, -2, 0],
      [2, 0, 0],
    ],
    [
      [0, 2, 0],
      [0.6, 1.8, 0],
    ],
    [
      [4, 3, 0],
      [2.5, 1.5, 0],
    ],
    [
      [1.5, 1, 2],
      [1.5, 1, 0],
    ],
  ];
  for (const [p, expected] of cases) {
    const d2 = closestPointOnTriangle(p[0], p[1], p[2], a, b, c, out);
    assert.ok(Math.abs(d2 - referenceDistanceSquared(p, a, b, c)) < 1e-9, `distance at ${p}`);
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(out[k] - expected[k]) < 1e-9, `closest point at ${p}: ${Array.from(out)}`);
  }
  const random = new StudioRandom(3);
  for (let trial = 0; trial < 2000; trial++) {
    const r = () => [random.uniform(-5, 5), random.uniform(-5, 5), random.uniform(-5, 5)] as V3;
    const [ta, tb, tc, p] = [r(), r(), r(), r()];
    const d2 = closestPointOnTriangle(p[0], p[1], p[2], ta, tb, tc, out);
    const reference = referenceDistanceSquared(p, ta, tb, tc);
    assert.ok(Math.abs(d2 - reference) < 1e-7 * (1 + reference), `trial ${trial}: ${d2} vs ${reference}`);
  }
  // Degenerate (collinear) triangle: distance to the segment.
  const d2 = closestPointOnTriangle(1, 1, 0, [0, 0, 0], [2, 0, 0], [4, 0, 0], out);
  assert.ok(Math.abs(d2 - 1) < 1e-12);
});

test('mesh index gives the same closest distances as testing every triangle', async () => {
  const model = await sharedModel();
  const triangles = trianglesWithinVertexRange(model.triangles, model.narrowFaceVertexCount).slice(0, 3 * 3000);
  const index = new TriangleMeshIndex(model.neutral, triangles);
  const random = new StudioRandom(5);
  const out = new Float64Array(3);
  const vertex = (i: number): V3 => [model.neutral[3 * i], model.neutral[3 * i + 1], model.neutral[3 * i + 2]];
  const result = TriangleMeshIndex.createResult();
  for (let trial = 0; trial < 300; trial++) {
    // Near the surface, in the grid, and far outside it.
    const spread = trial < 150 ? 5 : trial < 250 ? 60 : 400;
    const base = vertex(triangles[3 * random.integer(triangles.length / 3)]);
    const p: V3 = [base[0] + random.uniform(-spread, spread), base[1] + random.uniform(-spread, spread), base[2] + random.uniform(-spread, spread)];
    let best = Infinity;
    for (let t = 0; t < triangles.length / 3; t++) {
      best = Math.min(
        best,
        closestPointOnTriangle(p[0], p[1], p[2], vertex(triangles[3 * t]), vertex(triangles[3 * t + 1]), vertex(triangles[3 * t + 2]), out),
      );
    }
    index.closestPoint(p[0], p[1], p[2], result);
    assert.ok(Math.abs(result.distance - Math.sqrt(best)) < 1e-9, `trial ${trial}: ${result.distance} vs ${Math.sqrt(best)}`);
    const back = closestPointOnTriangle(
      p[0],
      p[1],
      p[2],
      vertex(triangles[3 * result.triangle]),
      vertex(triangles[3 * result.triangle + 1]),
      vertex(triangles[3 * result.triangle + 2]),
      out,
    );
    assert.ok(Math.abs(Math.sqrt(back) - result.distance) < 1e-9, 'reported triangle holds the closest point');
  }
});

test('mesh index: distances from 100k points near the full face area are plausible (time: npm run bench)', async () => {
  const model = await sharedModel();
  const triangles = trianglesWithinVertexRange(model.triangles, 9409);
  const random = new StudioRandom(9);
  const points = new Float64Array(100_000 * 3);
  for (let i = 0; i < 100_000; i++) {
    const v = random.integer(9409);
    for (let k = 0; k < 3; k++) points[3 * i + k] = model.neutral[3 * v + k] + random.normal() * 2;
  }
  const index = new TriangleMeshIndex(model.neutral, triangles);
  const distances = index.distancesFrom(points);
  let mean = 0;
  for (const d of distances) mean += d / distances.length;
  assert.ok(mean > 0.3 && mean < 3, `mean distance ${mean}`);
});

test('similarity alignment recovers a known transform, with and without scale, and ignores zero-weight outliers', () => {
  const random = new StudioRandom(11);
  const source = new Float64Array(50 * 3).map(() => random.uniform(-50, 50));
  const truth = { scale: 1.37, rotation: Float64Array.from(rotationFromEuler(0.4, -0.9, 0.2)), translation: Float64Array.from([10, -20, 300]) };
  const target = applySimilarityTransform(source, truth);
  const found = estimateSimilarityTransform(source, target);
  assert.ok(Math.abs(found.scale - 1.37) < 1e-9);
  for (let k = 0; k < 9; k++) assert.ok(Math.abs(found.rotation[k] - truth.rotation[k]) < 1e-9);
  for (let k = 0; k < 3; k++) assert.ok(Math.abs(found.translation[k] - truth.translation[k]) < 1e-6);
  // Rigid: a rigidly moved copy is recovered with scale 1.
  const rigidTruth = { ...truth, scale: 1 };
  const rigid = estimateSimilarityTransform(source, applySimilarityTransform(source, rigidTruth), { withScale: false });
  assert.equal(rigid.scale, 1);
  assert.ok(rotationAngleDeg(composeSimilarityTransforms(invertSimilarityTransform(rigid), rigidTruth).rotation) < 1e-6);
  // Outliers with zero weight change nothing.
  const corrupted = Float64Array.from(target);
  const weights = new Float64Array(50).fill(1);
  for (let i = 0; i < 5; i++) {
    corrupted[3 * i] += 500;
    weights[i] = 0;
  }
  const robust = estimateSimilarityTransform(source, corrupted, { weights });
  assert.ok(Math.abs(robust.scale - 1.37) < 1e-9);
  // A mirrored target never yields a reflection.
  const mirrored = Float64Array.from(target).map((v, i) => (i % 3 === 0 ? -v : v));
  const noReflection = estimateSimilarityTransform(source, mirrored);
  const r = noReflection.rotation;
  const det = r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) + r[2] * (r[3] * r[7] - r[4] * r[6]);
  assert.ok(Math.abs(det - 1) < 1e-9);
});

test('ICP brings a mesh back onto its moved vertices, also with outliers when trimmed', async () => {
  const model = await sharedModel();
  const triangles = trianglesWithinVertexRange(model.triangles, model.narrowFaceVertexCount);
  const index = new TriangleMeshIndex(model.neutral, triangles);
  const truth = { scale: 1, rotation: Float64Array.from(rotationFromEuler(0.06, -0.08, 0.04)), translation: Float64Array.from([4, -3, 5]) };
  const picked: number[] = [];
  for (let v = 0; v < model.narrowFaceVertexCount; v += 3) picked.push(model.neutral[3 * v], model.neutral[3 * v + 1], model.neutral[3 * v + 2]);
  const points = applySimilarityTransform(picked, truth);
  const result = alignMeshToPoints(points, index, undefined, { maxIterations: 60 });
  const error = composeSimilarityTransforms(invertSimilarityTransform(truth), result.transform);
  assert.ok(rotationAngleDeg(error.rotation) < 0.05, `rotation error ${rotationAngleDeg(error.rotation)}°`);
  assert.ok(Math.hypot(...error.translation) < 0.1, `translation error ${Math.hypot(...error.translation)} mm`);
  assert.ok(result.rms < 0.05, `rms ${result.rms}`);
  // 5 % outliers 30 mm off the surface: trimmed ICP still converges.
  const random = new StudioRandom(2);
  const noisy = Float64Array.from(points);
  for (let i = 0; i < noisy.length / 3; i += 20) noisy[3 * i + 2] += 30 + random.uniform(0, 10);
  const trimmed = alignMeshToPoints(noisy, index, undefined, { maxIterations: 150, inlierFraction: 0.9 });
  console.log(`# trimmed ICP: ${trimmed.iterations} iterations, rms ${trimmed.rms.toFixed(4)}`);
  const trimmedError = composeSimilarityTransforms(invertSimilarityTransform(truth), trimmed.transform);
  assert.ok(rotationAngleDeg(trimmedError.rotation) < 0.1, `trimmed rotation error ${rotationAngleDeg(trimmedError.rotation)}°`);
  assert.ok(Math.hypot(...trimmedError.translation) < 0.2, `trimmed translation error ${Math.hypot(...trimmedError.translation)}`);
});
