import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IBUG68_FROM_MESH468, meshToIbug68 } from '../../src/detect/ibug68.ts';

// MediaPipe mesh points that mirror each other across the face's midline. Checked on the
// two most frontal example photos (015316, 000055): reflecting each point's fitted 3D
// position across the plane of the midline points lands nearest to its listed partner.
const MIRROR: Record<number, number> = {
  162: 389,
  127: 356,
  234: 454,
  149: 378,
  148: 377,
  93: 323,
  132: 361,
  58: 288,
  172: 397,
  136: 365,
  150: 379,
  176: 400,
  70: 300,
  63: 293,
  105: 334,
  66: 296,
  107: 336,
  75: 305,
  97: 326,
  33: 263,
  160: 387,
  158: 385,
  133: 362,
  153: 380,
  144: 373,
  61: 291,
  39: 269,
  37: 267,
  321: 91,
  405: 181,
  314: 84,
  78: 308,
  81: 311,
  402: 178,
};
const mirrorOf = (i: number) => MIRROR[i] ?? Object.entries(MIRROR).find(([, v]) => v === i)?.[0];
// iBUG-68 mirror pairs (image-left point, image-right point).
const IBUG_PAIRS: [number, number][] = [
  ...Array.from({ length: 8 }, (_, i) => [i, 16 - i] as [number, number]),
  [17, 26],
  [18, 25],
  [19, 24],
  [20, 23],
  [21, 22],
  [31, 35],
  [32, 34],
  [36, 45],
  [37, 44],
  [38, 43],
  [39, 42],
  [40, 47],
  [41, 46],
  [48, 54],
  [49, 53],
  [50, 52],
  [59, 55],
  [58, 56],
  [60, 64],
  [61, 63],
  [67, 65],
];

test('68 entries of valid mesh indices', () => {
  assert.equal(IBUG68_FROM_MESH468.length, 68);
  for (const entry of IBUG68_FROM_MESH468) {
    assert.ok(entry.length >= 1 && entry.length <= 2);
    for (const [i, weight] of entry) assert.ok(Number.isInteger(i) && i >= 0 && i < 468 && weight > 0);
    assert.ok(Math.abs(entry.reduce((sum, [, weight]) => sum + weight, 0) - 1) < 1e-9, 'weights sum to 1');
  }
});

test('mirror-pair iBUG points use mirror-pair mesh points', () => {
  for (const [left, right] of IBUG_PAIRS) {
    const key = (points: readonly (readonly [number, number])[]) => points.map(([i, w]) => `${i}:${w}`).sort();
    const mirrored = IBUG68_FROM_MESH468[left].map(([i, w]) => [Number(mirrorOf(i)), w] as [number, number]);
    assert.deepEqual(key(mirrored), key(IBUG68_FROM_MESH468[right]), `iBUG ${left} vs ${right}`);
  }
});

test('meshToIbug68 takes the weighted mean of the listed points', () => {
  const mesh = new Float32Array(468 * 3);
  for (let i = 0; i < 468; i++) {
    mesh[3 * i] = i;
    mesh[3 * i + 1] = 1000 - i;
    mesh[3 * i + 2] = 7;
  }
  const landmarks = meshToIbug68(mesh);
  assert.equal(landmarks.length, 136);
  IBUG68_FROM_MESH468.forEach((entry, k) => {
    const mean = entry.reduce((s, [i, weight]) => s + weight * i, 0);
    assert.ok(Math.abs(landmarks[2 * k] - mean) < 1e-3 && Math.abs(landmarks[2 * k + 1] - (1000 - mean)) < 1e-3);
  });
  assert.throws(() => meshToIbug68(new Float32Array(10)), RangeError);
});
