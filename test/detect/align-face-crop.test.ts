import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALIGNED_CROP_TEMPLATE, alignFaceCrop, fitSimilarity2D } from '../../src/detect/align-face-crop.ts';
import { applyAffine2D, createRgbaImage, invertAffine2D, type Affine2D } from '../../src/common/image.ts';
import { UsageError } from '../../src/common/errors.ts';

const SIZE = 128;

/** iBUG-68 landmarks whose eye points average to, and mouth corners sit at, `imageFromCrop`(template). */
function landmarksFromTemplate(imageFromCrop: Affine2D): Float32Array {
  const landmarks = new Float32Array(136);
  const put = (i: number, [x, y]: [number, number]) => {
    landmarks[2 * i] = x;
    landmarks[2 * i + 1] = y;
  };
  const at = (k: number) => applyAffine2D(imageFromCrop, ALIGNED_CROP_TEMPLATE[k][0] * SIZE, ALIGNED_CROP_TEMPLATE[k][1] * SIZE);
  // Eye points spread symmetrically around the centre, so their mean is the centre.
  const ring: [number, number][] = [
    [-6, 0],
    [-3, -2],
    [3, -2],
    [6, 0],
    [3, 2],
    [-3, 2],
  ];
  for (const [eye, first] of [
    [0, 36],
    [1, 42],
  ] as const) {
    const [cx, cy] = at(eye);
    ring.forEach(([dx, dy], j) => put(first + j, [cx + dx, cy + dy]));
  }
  put(48, at(2));
  put(54, at(3));
  return landmarks;
}

test('recovers a known similarity exactly and samples the image through it', () => {
  const angle = 0.4,
    scale = 2.5;
  const imageFromCrop: Affine2D = {
    a: scale * Math.cos(angle),
    b: -scale * Math.sin(angle),
    c: scale * Math.sin(angle),
    d: scale * Math.cos(angle),
    tx: 140,
    ty: 60,
  };
  // A horizontal colour ramp makes every pixel's source position visible.
  const image = createRgbaImage(500, 500);
  for (let y = 0; y < 500; y++)
    for (let x = 0; x < 500; x++) {
      const o = (y * 500 + x) * 4;
      image.data[o] = x / 2;
      image.data[o + 1] = y / 2;
      image.data[o + 3] = 255;
    }
  const { crop, cropFromImage } = alignFaceCrop(image, landmarksFromTemplate(imageFromCrop), SIZE);
  const expected = invertAffine2D(imageFromCrop);
  // Float32 landmarks: agree to about 1e-5 pixels.
  for (const key of ['a', 'b', 'c', 'd', 'tx', 'ty'] as const)
    assert.ok(Math.abs(cropFromImage[key] - expected[key]) < 1e-4, `${key}: ${cropFromImage[key]} vs ${expected[key]}`);
  assert.equal(crop.width, SIZE);
  assert.equal(crop.height, SIZE);
  for (const [u, v] of [
    [10, 10],
    [64, 64],
    [100, 30],
  ]) {
    const [x, y] = applyAffine2D(imageFromCrop, u + 0.5, v + 0.5);
    const o = (v * SIZE + u) * 4;
    // Averaged pyramid level and bilinear sampling: within a couple of grey levels of the ramp.
    assert.ok(Math.abs(crop.data[o] - (x - 0.5) / 2) < 2.5 && Math.abs(crop.data[o + 1] - (y - 0.5) / 2) < 2.5, `pixel ${u},${v}`);
  }
});

test('fitSimilarity2D is least squares: noise on one point shifts the fit only partly', () => {
  const from: [number, number][] = [
    [0, 0],
    [10, 0],
    [0, 10],
    [10, 10],
  ];
  const to = from.map(([x, y]) => [2 * x + 5, 2 * y - 3] as [number, number]);
  to[3] = [to[3][0] + 4, to[3][1]];
  const m = fitSimilarity2D(from, to);
  const [x, y] = applyAffine2D(m, 10, 10);
  assert.ok(x > 25 && x < 29, `moved ${x}`);
  assert.ok(Math.abs(m.b + m.c) < 1e-12 && Math.abs(m.a - m.d) < 1e-12, 'no shear');
  assert.ok(Math.abs(y - 17) < 2);
});

test('bad landmarks or size are usage errors', () => {
  const image = createRgbaImage(10, 10);
  assert.throws(() => alignFaceCrop(image, new Float32Array(10), 64), UsageError);
  assert.throws(() => alignFaceCrop(image, new Float32Array(136), 64), UsageError); // all points coincide
  assert.throws(() => alignFaceCrop(image, landmarksFromTemplate({ a: 1, b: 0, c: 0, d: 1, tx: 0, ty: 0 }), 3), UsageError);
});
