import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { computeVertexNormalsArray } from '../../src/geometry/vertex-normals.ts';
import { rasterize } from '../../src/raster/rasterize.ts';
import { interpolate } from '../../src/raster/interpolate.ts';
import { visibleSubmesh } from '../../src/raster/visible-submesh.ts';
import { icosphere, projectPerspective, translate } from './mesh-fixtures.ts';

// A sphere seen from the front at a resolution where its triangles are about a pixel each:
// the back half is culled and only part of the front half wins a pixel.
const sphere = icosphere(4); // 5120 triangles, 2562 vertices
const positions = translate(sphere.positions, 0.1, -0.05, -4);
const clip = projectPerspective(positions, 3);
const vertexCount = positions.length / 3;
const size = 40;
const rasterization = rasterize(clip, sphere.triangles, { width: size, height: size }, { cullBackFaces: true });

test('visibleSubmesh keeps the winning triangles first, then their neighbours, renumbered onto ascending vertex ids', () => {
  const submesh = visibleSubmesh(rasterization, sphere.triangles, vertexCount);
  const triangleCount = sphere.triangles.length / 3;
  const winners = new Set<number>();
  for (const id of rasterization.triangleIdPlusOne) if (id) winners.add(id - 1);
  assert.equal(submesh.visibleTriangleCount, winners.size);
  assert.ok(winners.size > 200 && winners.size < triangleCount / 2, `${winners.size} visible triangles`);
  for (let i = 1; i < submesh.vertexIds.length; i++) assert.ok(submesh.vertexIds[i] > submesh.vertexIds[i - 1]);
  // Every submesh triangle maps back to a mesh triangle (same corners, same order).
  const key = (a: number, b: number, c: number) => `${a},${b},${c}`;
  const meshIndex = new Map<string, number>();
  for (let f = 0; f < triangleCount; f++) meshIndex.set(key(sphere.triangles[3 * f], sphere.triangles[3 * f + 1], sphere.triangles[3 * f + 2]), f);
  const original = (t: number) => meshIndex.get(key(...([0, 1, 2].map((c) => submesh.vertexIds[submesh.triangles[3 * t + c]]) as [number, number, number])))!;
  const submeshTriangleCount = submesh.triangles.length / 3;
  const taken = new Set<number>();
  for (let t = 0; t < submeshTriangleCount; t++) {
    const f = original(t);
    assert.ok(f !== undefined, `submesh triangle ${t} is a mesh triangle`);
    assert.equal(winners.has(f), t < submesh.visibleTriangleCount, `triangle ${f}: visible ones first`);
    taken.add(f);
  }
  // Neighbours: exactly the other triangles that touch a visible vertex.
  const visibleVertices = new Set<number>();
  for (const f of winners) for (let c = 0; c < 3; c++) visibleVertices.add(sphere.triangles[3 * f + c]);
  for (let f = 0; f < triangleCount; f++) {
    const touches = [0, 1, 2].some((c) => visibleVertices.has(sphere.triangles[3 * f + c]));
    assert.equal(taken.has(f), touches, `triangle ${f}`);
  }
  // The renumbered ids point at the same triangles, pixel by pixel; barycentrics are shared.
  for (let p = 0; p < size * size; p++) {
    const id = rasterization.triangleIdPlusOne[p];
    const local = submesh.rasterization.triangleIdPlusOne[p];
    assert.equal(local === 0, id === 0);
    if (id) assert.equal(original(local - 1), id - 1);
  }
  assert.equal(submesh.rasterization.barycentrics, rasterization.barycentrics);
  // Without neighbours: only the winners.
  const bare = visibleSubmesh(rasterization, sphere.triangles, vertexCount, { withNeighbourTriangles: false });
  assert.equal(bare.triangles.length / 3, winners.size);
  assert.equal(bare.vertexIds.length, visibleVertices.size);
});

test('normals and interpolation on the submesh equal those of the whole mesh (values and gradients)', async () => {
  await initBackend();
  const submesh = visibleSubmesh(rasterization, sphere.triangles, vertexCount);
  // Vertex normals at the visible vertices agree (the neighbours make the one-rings whole).
  const fullNormals = computeVertexNormalsArray(positions, sphere.triangles);
  const subPositions = new Float32Array(submesh.vertexIds.length * 3);
  submesh.vertexIds.forEach((v, i) => subPositions.set(positions.subarray(3 * v, 3 * v + 3), 3 * i));
  const subNormals = computeVertexNormalsArray(subPositions, submesh.triangles);
  for (let t = 0; t < submesh.visibleTriangleCount; t++) {
    for (let c = 0; c < 3; c++) {
      const local = submesh.triangles[3 * t + c],
        v = submesh.vertexIds[local];
      for (let k = 0; k < 3; k++) assert.ok(Math.abs(subNormals[3 * local + k] - fullNormals[3 * v + k]) < 1e-6, `normal of vertex ${v}`);
    }
  }
  // Interpolating the whole mesh's attributes over the whole rasterisation, or the submesh's
  // rows over the submesh's, gives one image and one gradient.
  const attributes = tf.tensor2d(fullNormals, [vertexCount, 3]);
  const clipTensor = tf.tensor2d(clip, [vertexCount, 4]);
  const weights = tf.randomNormal([size, size, 3], 0, 1, 'float32', 5);
  const ids = tf.tensor1d(submesh.vertexIds, 'int32');
  const full = (a: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(interpolate(a as tf.Tensor2D, rasterization, sphere.triangles, q as tf.Tensor2D).image, weights));
  const cut = (a: tf.Tensor, q: tf.Tensor) =>
    tf.sum(tf.mul(interpolate(tf.gather(a, ids) as tf.Tensor2D, submesh.rasterization, submesh.triangles, tf.gather(q, ids) as tf.Tensor2D).image, weights));
  const [fullValue, cutValue] = [full, cut].map((f) => tf.tidy(() => f(attributes, clipTensor).dataSync()[0]));
  assert.ok(Math.abs(fullValue - cutValue) < 1e-4 * Math.abs(fullValue), `${fullValue} vs ${cutValue}`);
  const [fullGrads, cutGrads] = [full, cut].map((f) =>
    tf.tidy(() =>
      tf
        .grads(f)([attributes, clipTensor])
        .map((g) => g.dataSync()),
    ),
  );
  for (let k = 0; k < 2; k++) {
    let maxDifference = 0,
      maxValue = 0;
    for (let i = 0; i < fullGrads[k].length; i++) {
      maxDifference = Math.max(maxDifference, Math.abs(fullGrads[k][i] - cutGrads[k][i]));
      maxValue = Math.max(maxValue, Math.abs(fullGrads[k][i]));
    }
    assert.ok(maxValue > 0 && maxDifference < 1e-5 * maxValue, `gradient ${k}: ${maxDifference} of ${maxValue}`);
  }
  tf.dispose([attributes, clipTensor, weights, ids]);
});

test('visibleSubmesh of an empty rasterisation is empty; bad inputs are usage errors', () => {
  const empty = rasterize(clip, sphere.triangles, { width: 4, height: 4 }, { cullBackFaces: true });
  empty.triangleIdPlusOne.fill(0);
  const submesh = visibleSubmesh(empty, sphere.triangles, vertexCount);
  assert.equal(submesh.vertexIds.length, 0);
  assert.equal(submesh.triangles.length, 0);
  assert.throws(() => visibleSubmesh(rasterization, sphere.triangles, 10), /vertex index below 10/);
  assert.throws(() => visibleSubmesh({ ...rasterization, triangleIdPlusOne: Int32Array.of(1e6) }, sphere.triangles, vertexCount), /triangleIdPlusOne/);
});
