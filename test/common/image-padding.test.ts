import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRgbaImage, fractionOutsideRect, padImageMirror } from '../../src/common/image.ts';

function numbered(width: number, height: number) {
  const image = createRgbaImage(width, height);
  for (let i = 0; i < width * height; i++) image.data.set([i, 0, 0, 255], 4 * i);
  return image;
}
const red = (image: ReturnType<typeof createRgbaImage>, x: number, y: number) => image.data[(y * image.width + x) * 4];

test('padImageMirror mirrors about the edges, repeatedly for wide pads', () => {
  const image = numbered(3, 2); // rows: 0 1 2 / 3 4 5
  const padded = padImageMirror(image, 2);
  assert.equal(padded.width, 7);
  assert.equal(padded.height, 6);
  // The original sits at (2, 2).
  for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) assert.equal(red(padded, x + 2, y + 2), y * 3 + x);
  // Left of column 0 comes column 0, then column 1 (edge pixel repeated once, as a mirror).
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((x) => red(padded, x, 2)),
    [1, 0, 0, 1, 2, 2, 1],
  );
  // Rows: above row 0 come row 0 then row 1; a 2-row image mirrored twice over.
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((y) => red(padded, 2, y)),
    [3, 0, 0, 3, 3, 0],
  );
  assert.throws(() => padImageMirror(image, -1), /non-negative integer/);
});

test('fractionOutsideRect counts crop pixel centres mapped outside the rectangle', () => {
  const identity = { a: 1, b: 0, c: 0, d: 1, tx: 0, ty: 0 };
  assert.equal(fractionOutsideRect(identity, 4, 4, { left: 0, top: 0, width: 4, height: 4 }), 0);
  // Shifted by 2 px right: the two right columns of a 4×4 crop fall outside a 4×4 rectangle.
  assert.equal(fractionOutsideRect({ ...identity, tx: 2 }, 4, 4, { left: 0, top: 0, width: 4, height: 4 }), 0.5);
  // Twice the scale: centres 1, 3, 5, 7 → two of four columns and rows inside.
  assert.equal(fractionOutsideRect({ ...identity, a: 2, d: 2 }, 4, 4, { left: 0, top: 0, width: 4, height: 4 }), 0.75);
});
