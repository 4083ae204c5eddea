import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRgbaImage, mirrorImage } from '../../src/common/image.ts';

test('mirrorImage flips each row left to right, keeps the input, and twice gives the image back', () => {
  const image = createRgbaImage(3, 2);
  for (let i = 0; i < image.data.length; i++) image.data[i] = i;
  const copy = Uint8ClampedArray.from(image.data);
  const mirrored = mirrorImage(image);
  assert.equal(mirrored.width, 3);
  assert.equal(mirrored.height, 2);
  // Row 0 pixels (RGBA) 0..3, 4..7, 8..11 → 8..11, 4..7, 0..3; row 1 likewise.
  assert.deepEqual(Array.from(mirrored.data.subarray(0, 12)), [8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3]);
  assert.deepEqual(Array.from(mirrored.data.subarray(12, 24)), [20, 21, 22, 23, 16, 17, 18, 19, 12, 13, 14, 15]);
  assert.deepEqual(image.data, copy);
  assert.deepEqual(mirrorImage(mirrored).data, copy);
});
