import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImageBytes, decodeImageFile, decodeImageFileScaled } from '../../src/io/node/decode-image.ts';
import { EXIT_CODES, InputMissingError, NotAnImageError, UsageError } from '../../src/common/errors.ts';
import type { RgbaImage } from '../../src/common/image.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'facegar-decode-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A deterministic RGB test card: smooth gradients, so JPEG keeps it close. */
function testCard(width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 3 * (y * width + x);
      rgb[i] = (x * 255) / (width - 1);
      rgb[i + 1] = (y * 255) / (height - 1);
      rgb[i + 2] = 128;
    }
  }
  return rgb;
}

function pixel(image: RgbaImage, x: number, y: number): number[] {
  const i = 4 * (y * image.width + x);
  return Array.from(image.data.subarray(i, i + 4));
}

async function fixture(name: string, bytes: Uint8Array | string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

/** Assert `promise` rejects with `type`, a one-line message that names `path`, and `exitCode`. */
async function rejectsNaming(promise: Promise<unknown>, type: typeof NotAnImageError | typeof InputMissingError, path: string, exitCode: number) {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
    assert.equal(e.exitCode, exitCode);
    assert.ok(e.message.startsWith(`${path}: `), e.message);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

test('missing, directory, empty and text inputs fail with typed one-line errors', async () => {
  const missing = join(dir, 'missing.jpg');
  await rejectsNaming(decodeImageFile(missing), InputMissingError, missing, EXIT_CODES.inputMissing);
  await rejectsNaming(decodeImageFile(join(dir, 'missing-dir', 'x.jpg')), InputMissingError, join(dir, 'missing-dir', 'x.jpg'), 3);
  const folder = join(dir, 'folder.jpg');
  await mkdir(folder);
  await rejectsNaming(decodeImageFile(folder), NotAnImageError, folder, EXIT_CODES.inputNotImage);
  const empty = await fixture('empty.jpg', new Uint8Array(0));
  await rejectsNaming(decodeImageFile(empty), NotAnImageError, empty, 4);
  const text = await fixture('notes.jpg', 'this is not an image\n'.repeat(20));
  await rejectsNaming(decodeImageFile(text), NotAnImageError, text, 4);
  await rejectsNaming(decodeImageBytes(new TextEncoder().encode('GIF89a nonsense'), 'upload'), NotAnImageError, 'upload', 4);
});

test('truncated JPEG and PNG fail instead of decoding as a partly grey image', async () => {
  const card = testCard(96, 64);
  const jpeg = await sharp(card, { raw: { width: 96, height: 64, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
  const png = await sharp(card, { raw: { width: 96, height: 64, channels: 3 } })
    .png()
    .toBuffer();
  for (const [name, bytes] of [
    ['cut.jpg', jpeg],
    ['cut.png', png],
  ] as const) {
    for (const fraction of [0.5, 0.9]) {
      const path = await fixture(`${fraction}-${name}`, bytes.subarray(0, Math.floor(bytes.length * fraction)));
      await rejectsNaming(decodeImageFile(path), NotAnImageError, path, 4);
      await rejectsNaming(decodeImageFileScaled(path, { maxSide: 32 }), NotAnImageError, path, 4);
    }
  }
});

test('content decides the format: a PNG named .jpg decodes exactly; RGBA keeps alpha', async () => {
  const rgba = new Uint8Array(5 * 3 * 4).map((_, i) => (i * 53 + 7) % 256);
  const png = await sharp(rgba, { raw: { width: 5, height: 3, channels: 4 } })
    .png()
    .toBuffer();
  const image = await decodeImageFile(await fixture('really-a-png.jpg', png));
  assert.equal(image.width, 5);
  assert.equal(image.height, 3);
  assert.ok(image.data instanceof Uint8ClampedArray);
  assert.deepEqual(Array.from(image.data), Array.from(rgba));
});

test('grayscale JPEG and PNG come out as opaque RGBA with R = G = B', async () => {
  const gray = new Uint8Array(32 * 16).map((_, i) => (i % 32) * 8);
  const grayPng = await sharp(gray, { raw: { width: 32, height: 16, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
  const grayJpeg = await sharp(gray, { raw: { width: 32, height: 16, channels: 1 } })
    .toColourspace('b-w')
    .jpeg({ quality: 95 })
    .toBuffer();
  assert.equal((await sharp(grayPng).metadata()).channels, 1, 'fixture is a one-channel PNG');
  assert.equal((await sharp(grayJpeg).metadata()).channels, 1, 'fixture is a one-channel JPEG');
  for (const [bytes, tolerance] of [
    [grayPng, 0],
    [grayJpeg, 6],
  ] as const) {
    const image = await decodeImageBytes(bytes, 'gray');
    assert.equal(image.data.length, 32 * 16 * 4);
    for (let i = 0; i < 32 * 16; i++) {
      const [r, g, b, a] = image.data.subarray(4 * i, 4 * i + 4);
      assert.ok(r === g && g === b && a === 255, `pixel ${i}: ${r},${g},${b},${a}`);
      assert.ok(Math.abs(r - gray[i]) <= tolerance, `pixel ${i}: ${r} vs ${gray[i]}`);
    }
  }
});

test('16-bit PNG becomes 8-bit with values within 1 of v * 255 / 65535', async () => {
  const values = new Uint16Array([0, 65535, 257, 32768, 1000, 50000, 12345, 65280, 255, 40000, 20000, 60000]);
  const png16 = await sharp(values, { raw: { width: 4, height: 1, channels: 3 } })
    .toColourspace('rgb16')
    .png()
    .toBuffer();
  assert.equal((await sharp(png16).metadata()).depth, 'ushort', 'fixture is 16-bit');
  const image = await decodeImageBytes(png16, 'deep');
  for (let p = 0; p < 4; p++) {
    for (let c = 0; c < 3; c++) {
      const got = image.data[4 * p + c],
        want = (values[3 * p + c] * 255) / 65535;
      assert.ok(Math.abs(got - want) < 1, `pixel ${p} channel ${c}: ${got} vs ${want}`);
    }
    assert.equal(image.data[4 * p + 3], 255);
  }
  assert.equal(image.data[0], 0);
  assert.equal(image.data[1], 255);
});

test('EXIF orientation 6 is applied: sides swap and the top-left block ends top-right', async () => {
  // Stored 60x40: red block in the top-left 30x20, blue elsewhere. Orientation 6 means
  // "rotate 90° clockwise to display", so stored (x, y) shows at (39 - y, x).
  const stored = new Uint8Array(60 * 40 * 3);
  for (let y = 0; y < 40; y++) {
    for (let x = 0; x < 60; x++) stored.set(x < 30 && y < 20 ? [230, 20, 20] : [20, 20, 230], 3 * (y * 60 + x));
  }
  const jpeg = await sharp(stored, { raw: { width: 60, height: 40, channels: 3 } })
    .jpeg({ quality: 95 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  assert.equal((await sharp(jpeg).metadata()).orientation, 6);
  const path = await fixture('rotated.jpg', jpeg);
  const image = await decodeImageFile(path);
  assert.deepEqual([image.width, image.height], [40, 60]);
  const isRed = (p: number[]) => p[0] > 180 && p[2] < 70;
  const isBlue = (p: number[]) => p[2] > 180 && p[0] < 70;
  assert.ok(isRed(pixel(image, 35, 5)), 'top right is red');
  assert.ok(isRed(pixel(image, 25, 25)), 'red block spans x 20..39, y 0..29');
  assert.ok(isBlue(pixel(image, 5, 5)), 'top left is blue');
  assert.ok(isBlue(pixel(image, 35, 50)), 'bottom right is blue');

  const scaled = await decodeImageFileScaled(path, { maxSide: 30 });
  assert.deepEqual([scaled.originalWidth, scaled.originalHeight], [40, 60]);
  assert.deepEqual([scaled.image.width, scaled.image.height], [20, 30]);
  assert.equal(scaled.scale, 0.5);
  assert.ok(isRed(pixel(scaled.image, 17, 2)) && isBlue(pixel(scaled.image, 2, 2)));
});

test('maxSide leaves small images alone and rejects bad values', async () => {
  const path = await fixture(
    'small.png',
    await sharp(testCard(20, 10), { raw: { width: 20, height: 10, channels: 3 } })
      .png()
      .toBuffer(),
  );
  const result = await decodeImageFileScaled(path, { maxSide: 20 });
  assert.equal(result.scale, 1);
  assert.deepEqual(result.image, await decodeImageFile(path));
  for (const maxSide of [0, -5, 2.5, Number.NaN]) {
    await assert.rejects(decodeImageFileScaled(path, { maxSide }), UsageError);
  }
});

test('a 12000x9000 JPEG decodes in full, and with maxSide maps back to original pixels', async () => {
  // Grey canvas with one red square at original pixels x 9000..9600, y 3000..3600.
  const square = await sharp({ create: { width: 600, height: 600, channels: 3, background: { r: 220, g: 10, b: 10 } } })
    .png()
    .toBuffer();
  let start = performance.now();
  const jpeg = await sharp({ create: { width: 12000, height: 9000, channels: 3, background: { r: 90, g: 90, b: 90 } } })
    .composite([{ input: square, left: 9000, top: 3000 }])
    .jpeg({ quality: 80 })
    .toBuffer();
  const path = await fixture('huge.jpg', jpeg);
  const generateMs = performance.now() - start;

  start = performance.now();
  const full = await decodeImageFile(path);
  const fullMs = performance.now() - start;
  assert.deepEqual([full.width, full.height], [12000, 9000]);
  assert.ok(pixel(full, 9300, 3300)[0] > 180 && pixel(full, 8000, 3300)[0] < 120);
  const rssMb = process.memoryUsage().rss / 1e6;

  start = performance.now();
  const scaled = await decodeImageFileScaled(path, { maxSide: 2000 });
  const scaledMs = performance.now() - start;
  assert.deepEqual([scaled.image.width, scaled.image.height], [2000, 1500]);
  assert.deepEqual([scaled.originalWidth, scaled.originalHeight], [12000, 9000]);
  assert.equal(scaled.scale, 2000 / 12000);
  // Square centre (9300, 3300) maps to (1550, 550); its edges to 1500..1600, 500..600.
  const at = (x: number, y: number) => pixel(scaled.image, Math.floor(x * scaled.scale), Math.floor(y * scaled.scale));
  assert.ok(at(9300, 3300)[0] > 180, 'square centre is red');
  assert.ok(at(9030, 3030)[0] > 180 && at(9570, 3570)[0] > 180, 'just inside the corners is red');
  assert.ok(at(8950, 3300)[0] < 120 && at(9650, 3300)[0] < 120 && at(9300, 2950)[0] < 120, 'just outside is grey');
  console.log(
    `12000x9000 JPEG (${(jpeg.length / 1e6).toFixed(1)} MB): made in ${generateMs.toFixed(0)} ms, ` +
      `full decode ${fullMs.toFixed(0)} ms (rss ${rssMb.toFixed(0)} MB), maxSide 2000 decode ${scaledMs.toFixed(0)} ms`,
  );
});
