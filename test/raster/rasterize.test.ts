import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rasterize } from '../../src/raster/rasterize.ts';
import { FacegarError } from '../../src/common/errors.ts';
import { icosphere, projectPerspective, seededRandom, translate } from './mesh-fixtures.ts';

interface Reference {
  ids: Int32Array;
  barycentrics: Float64Array;
  depth: Float64Array;
  minEdgeDistancePx: Float64Array;
}

/**
 * Brute force: every pixel centre against every triangle, with exact-as-float64 edge functions
 * evaluated directly, the top-left rule on the sign-normalised triangle, nearest z/w wins
 * (first listed on ties), barycentrics by perspective-dividing screen-space weights.
 */
function referenceRasterize(clip: Float32Array, triangles: Uint32Array, width: number, height: number): Reference {
  const n = width * height;
  const ids = new Int32Array(n);
  const barycentrics = new Float64Array(2 * n);
  const depth = new Float64Array(n).fill(Infinity);
  const minEdgeDistancePx = new Float64Array(n).fill(Infinity);
  for (let f = 0; f < triangles.length / 3; f++) {
    const v = [0, 1, 2].map((k) => triangles[3 * f + k]);
    const w = v.map((i) => clip[4 * i + 3]);
    if (w.some((x) => !(x > 0))) continue;
    const sx = v.map((i, k) => (clip[4 * i] / w[k] + 1) * 0.5 * width);
    const sy = v.map((i, k) => (1 - clip[4 * i + 1] / w[k]) * 0.5 * height);
    const z = v.map((i, k) => clip[4 * i + 2] / w[k]);
    const area = (sx[1] - sx[0]) * (sy[2] - sy[0]) - (sy[1] - sy[0]) * (sx[2] - sx[0]);
    if (area === 0) continue;
    const s = Math.sign(area);
    for (let row = 0; row < height; row++) {
      for (let col = 0; col < width; col++) {
        const px = col + 0.5,
          py = row + 0.5;
        const e = [0, 0, 0];
        let inside = true;
        for (let k = 0; k < 3; k++) {
          const a = (k + 1) % 3,
            b = (k + 2) % 3;
          const dx = sx[b] - sx[a],
            dy = sy[b] - sy[a];
          e[k] = dx * (py - sy[a]) - dy * (px - sx[a]);
          const p = row * width + col;
          minEdgeDistancePx[p] = Math.min(minEdgeDistancePx[p], Math.abs(e[k]) / Math.hypot(dx, dy));
          const owned = s * dy < 0 || (dy === 0 && s * dx > 0);
          const signed = s * e[k];
          if (!(signed > 0 || (signed === 0 && owned))) inside = false;
        }
        if (!inside) continue;
        const d = (z[0] * e[0] + z[1] * e[1] + z[2] * e[2]) / area;
        const p = row * width + col;
        if (d < depth[p]) {
          depth[p] = d;
          ids[p] = f + 1;
          const q = e.map((ek, k) => ek / area / w[k]);
          const sum = q[0] + q[1] + q[2];
          barycentrics[2 * p] = q[1] / sum;
          barycentrics[2 * p + 1] = q[2] / sum;
        }
      }
    }
  }
  return { ids, barycentrics, depth, minEdgeDistancePx };
}

/**
 * A triangle soup whose screen coordinates lie on a 1/`gridDivisions` pixel grid and whose
 * clip coordinates are exact in float32 (W, H and w powers of two), with shared vertices,
 * shared edges, both windings, and a triangle behind the eye.
 */
function gridSoup(seed: number, width: number, height: number, triangleCount: number, gridDivisions: number): [Float32Array, Uint32Array] {
  const random = seededRandom(seed);
  const positions: number[] = [];
  const triangles: number[] = [];
  const addVertex = (behind = false) => {
    const sx = Math.round((random() * (width + 16) - 8) * gridDivisions) / gridDivisions;
    const sy = Math.round((random() * (height + 16) - 8) * gridDivisions) / gridDivisions;
    const w = behind ? -1 : [0.5, 1, 2, 4][Math.floor(random() * 4)];
    const ndcX = (sx / width) * 2 - 1,
      ndcY = 1 - (sy / height) * 2;
    const ndcZ = Math.round((random() * 1.8 - 0.9) * 1024) / 1024;
    positions.push(ndcX * w, ndcY * w, ndcZ * w, w);
    return positions.length / 4 - 1;
  };
  for (let f = 0; f < triangleCount; f++) {
    const count = positions.length / 4;
    const r = random();
    if (f > 0 && r < 0.3) {
      // Share an edge of the previous triangle, reversed (a mesh neighbour).
      const p = triangles.length - 3;
      triangles.push(triangles[p + 1], triangles[p], addVertex());
    } else if (f > 0 && r < 0.5) {
      triangles.push(Math.floor(random() * count), addVertex(), addVertex());
    } else {
      triangles.push(addVertex(f === 3), addVertex(), addVertex());
    }
  }
  return [Float32Array.from(positions), Uint32Array.from(triangles)];
}

function assertMatchesReference(clip: Float32Array, triangles: Uint32Array, width: number, height: number, nearEdgePx = 0): number {
  const result = rasterize(clip, triangles, { width, height });
  const expected = referenceRasterize(clip, triangles, width, height);
  let covered = 0,
    skippedNearEdge = 0;
  for (let p = 0; p < width * height; p++) {
    if (expected.minEdgeDistancePx[p] < nearEdgePx) {
      skippedNearEdge++;
      continue;
    }
    assert.equal(result.triangleIdPlusOne[p], expected.ids[p], `triangle id at pixel ${p % width},${Math.floor(p / width)}`);
    if (expected.ids[p] === 0) {
      assert.equal(result.depth[p], Infinity);
      continue;
    }
    covered++;
    assert.ok(Math.abs(result.barycentrics[2 * p] - expected.barycentrics[2 * p]) < 1e-5, `b1 at ${p}`);
    assert.ok(Math.abs(result.barycentrics[2 * p + 1] - expected.barycentrics[2 * p + 1]) < 1e-5, `b2 at ${p}`);
    assert.ok(Math.abs(result.depth[p] - expected.depth[p]) < 1e-6, `depth at ${p}`);
  }
  assert.ok(skippedNearEdge < width * height * 0.01);
  return covered;
}

test('rasterize matches a brute-force reference on grid-aligned soups (ties exact)', () => {
  for (const [seed, divisions] of [
    [1, 8],
    [2, 2],
    [3, 1],
    [4, 16],
  ]) {
    const [clip, triangles] = gridSoup(seed, 64, 32, 40, divisions);
    const covered = assertMatchesReference(clip, triangles, 64, 32);
    assert.ok(covered > 500, `seed ${seed} covers ${covered} pixels`);
  }
});

test('rasterize matches the reference on a perspective sphere and a random float soup', () => {
  const sphere = icosphere(2);
  const clip = projectPerspective(translate(sphere.positions, 0.2, -0.1, -3), 2.5);
  const covered = assertMatchesReference(clip, sphere.triangles, 48, 40, 1e-4);
  assert.ok(covered > 600);

  const random = seededRandom(7);
  const soup = new Float32Array(4 * 90);
  for (let v = 0; v < 90; v++) {
    const w = 0.5 + random() * 2;
    soup.set([(random() * 2.4 - 1.2) * w, (random() * 2.4 - 1.2) * w, (random() * 2 - 1) * w, w], 4 * v);
  }
  const soupTriangles = Uint32Array.from({ length: 90 }, (_, i) => i);
  assertMatchesReference(soup, soupTriangles, 37, 29, 1e-4);
});

/** Per-pixel count of triangles that cover it when each is drawn alone. */
function coverageCounts(clip: Float32Array, triangles: Uint32Array, width: number, height: number): Int32Array {
  const counts = new Int32Array(width * height);
  for (let f = 0; f < triangles.length / 3; f++) {
    const r = rasterize(clip, triangles.subarray(3 * f, 3 * f + 3), { width, height });
    for (let p = 0; p < counts.length; p++) if (r.triangleIdPlusOne[p]) counts[p]++;
  }
  return counts;
}

/** Clip positions (w = 1) for screen points given in pixels. */
function clipFromPixels(points: number[][], width: number, height: number): Float32Array {
  return Float32Array.from(points.flatMap(([x, y]) => [(x / width) * 2 - 1, 1 - (y / height) * 2, 0, 1]));
}

test('a watertight mesh covers each pixel centre exactly once (edges and vertices on pixel centres)', () => {
  const width = 40,
    height = 36;
  const random = seededRandom(11);
  for (const jitter of [0, 0.4]) {
    // 8×8 quads, corners on pixel centres, split along alternating diagonals; interior vertices jittered.
    const n = 8,
      spacing = 4,
      origin = 4.5;
    const points: number[][] = [];
    for (let j = 0; j <= n; j++) {
      for (let i = 0; i <= n; i++) {
        const interior = i > 0 && j > 0 && i < n && j < n;
        const jx = interior ? (random() - 0.5) * jitter * spacing : 0;
        const jy = interior ? (random() - 0.5) * jitter * spacing : 0;
        points.push([origin + i * spacing + jx, origin + j * spacing + jy]);
      }
    }
    const triangles: number[] = [];
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const a = j * (n + 1) + i,
          b = a + 1,
          c = a + n + 1,
          d = c + 1;
        if ((i + j) % 2 === 0) triangles.push(a, c, b, b, c, d);
        else triangles.push(a, c, d, a, d, b);
      }
    }
    const clip = clipFromPixels(points, width, height);
    const counts = coverageCounts(clip, Uint32Array.from(triangles), width, height);
    for (let row = 0; row < height; row++) {
      for (let col = 0; col < width; col++) {
        const x = col + 0.5,
          y = row + 0.5;
        const inside = x > origin && x < origin + n * spacing && y > origin && y < origin + n * spacing;
        const count = counts[row * width + col];
        if (inside) assert.equal(count, 1, `pixel ${col},${row} (jitter ${jitter})`);
        else assert.ok(count <= 1, `pixel ${col},${row} drawn ${count} times`);
      }
    }
  }

  // A fan of 7 triangles around a vertex on a pixel centre, both windings mixed.
  const centre = [20.5, 18.5];
  const ring = Array.from({ length: 7 }, (_, k) => [centre[0] + 9 * Math.cos(k * 0.9), centre[1] + 9 * Math.sin(k * 0.9)]);
  ring.push(ring[0]);
  const fanPoints = [centre, ...ring.slice(0, 7)];
  const fan: number[] = [];
  for (let k = 0; k < 7; k++) {
    const a = 1 + k,
      b = 1 + ((k + 1) % 7);
    if (k % 2) fan.push(0, a, b);
    else fan.push(0, b, a);
  }
  const fanCounts = coverageCounts(clipFromPixels(fanPoints, width, height), Uint32Array.from(fan), width, height);
  assert.equal(fanCounts[18 * width + 20], 1);
  for (const count of fanCounts) assert.ok(count <= 1);

  // Two triangles covering the whole image: every pixel exactly once.
  const quad = Float32Array.from([-1, -1, 0, 1, 1, -1, 0, 1, 1, 1, 0, 1, -1, 1, 0, 1]);
  for (const count of coverageCounts(quad, Uint32Array.from([0, 1, 2, 0, 2, 3]), width, height)) assert.equal(count, 1);
});

test('image orientation, depth order, culling and skipped triangles', () => {
  const width = 16,
    height = 8;
  // Counter-clockwise in NDC, in the top-left quadrant.
  const topLeft = Float32Array.from([-1, 0, 0.5, 1, 0, 0, 0.5, 1, -1, 1, 0.5, 1]);
  const r = rasterize(topLeft, Uint32Array.from([0, 1, 2]), { width, height });
  assert.equal(r.triangleIdPlusOne[0], 1, 'NDC (-1, +1) is the top-left pixel');
  assert.equal(r.triangleIdPlusOne[(height - 1) * width], 0, 'bottom rows empty');
  assert.equal(r.triangleIdPlusOne[width - 1], 0, 'right columns empty');
  assert.ok(Math.abs(r.depth[0] - 0.5) < 1e-6);
  assert.equal(rasterize(topLeft, Uint32Array.from([0, 1, 2]), { width, height }, { cullBackFaces: true }).triangleIdPlusOne[0], 1);
  assert.equal(rasterize(topLeft, Uint32Array.from([0, 2, 1]), { width, height }, { cullBackFaces: true }).triangleIdPlusOne[0], 0);
  assert.equal(rasterize(topLeft, Uint32Array.from([0, 2, 1]), { width, height }).triangleIdPlusOne[0], 1);

  // Two full-screen triangles; the nearer one wins wherever both cover, whatever the order.
  const far = [-3, -3, 0.8, 1, 3, -3, 0.8, 1, 0, 3, 0.8, 1];
  const near = [-3, -3, -0.2, 1, 3, -3, -0.2, 1, 0, 3, -0.2, 1];
  for (const [positions, nearId] of [
    [[...far, ...near], 2],
    [[...near, ...far], 1],
  ] as const) {
    const out = rasterize(Float32Array.from(positions), Uint32Array.from([0, 1, 2, 3, 4, 5]), { width, height });
    for (let p = 0; p < width * height; p++) assert.equal(out.triangleIdPlusOne[p], nearId);
  }

  // A vertex with w <= 0 skips the triangle.
  const behind = Float32Array.from([-1, -1, 0, 1, 1, -1, 0, 1, 0, 1, 0, -0.5]);
  assert.ok(rasterize(behind, Uint32Array.from([0, 1, 2]), { width, height }).triangleIdPlusOne.every((id) => id === 0));
});

test('rasterize rejects malformed input with a typed error', () => {
  const clip = new Float32Array(12);
  assert.throws(() => rasterize(clip, Uint32Array.from([0, 1, 3]), { width: 4, height: 4 }), FacegarError);
  assert.throws(() => rasterize(clip.subarray(0, 10), Uint32Array.from([0, 1, 2]), { width: 4, height: 4 }), FacegarError);
  assert.throws(() => rasterize(clip, Uint32Array.from([0, 1, 2]), { width: 0, height: 4 }), FacegarError);
  assert.throws(() => rasterize(clip, Uint32Array.from([0, 1]), { width: 4, height: 4 }), FacegarError);
});
