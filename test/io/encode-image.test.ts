import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng, writePngAtomic } from '../../src/io/node/encode-image.ts';
import { decodeImageBytes, decodeImageFile } from '../../src/io/node/decode-image.ts';
import { OutputNotWritableError, UsageError } from '../../src/common/errors.ts';
import { createRgbaImage, type RgbaImage } from '../../src/common/image.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'facegar-encode-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function noiseImage(width: number, height: number): RgbaImage {
  const image = createRgbaImage(width, height);
  let state = 12345;
  for (let i = 0; i < image.data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    image.data[i] = state >>> 24;
  }
  return image;
}

test('encodePng is lossless, alpha included, and starts with the PNG signature', async () => {
  const image = noiseImage(37, 23);
  const png = await encodePng(image);
  assert.ok(png instanceof Uint8Array);
  assert.deepEqual(Array.from(png.subarray(0, 8)), [137, 80, 78, 71, 13, 10, 26, 10]);
  const back = await decodeImageBytes(png, 'roundtrip');
  assert.deepEqual([back.width, back.height], [37, 23]);
  assert.deepEqual(Array.from(back.data), Array.from(image.data));
});

test('encodePng accepts a view into a larger buffer', async () => {
  const big = new Uint8ClampedArray(100 + 4 * 4 * 4).fill(7);
  const image = { width: 4, height: 4, data: big.subarray(100) };
  image.data.fill(200);
  const back = await decodeImageBytes(await encodePng(image), 'view');
  assert.ok(back.data.every((v) => v === 200));
});

test('writePngAtomic writes a decodable file and leaves no temp file', async () => {
  const image = noiseImage(16, 9);
  const path = join(dir, 'overlay.png');
  await writePngAtomic(path, image);
  assert.deepEqual(await readdir(dir), ['overlay.png']);
  assert.deepEqual(Array.from((await decodeImageFile(path)).data), Array.from(image.data));
  assert.deepEqual(new Uint8Array(await readFile(path)), await encodePng(image));
});

test('bad images and unwritable paths give typed errors', async () => {
  await assert.rejects(encodePng({ width: 3, height: 3, data: new Uint8ClampedArray(35) }), UsageError);
  await assert.rejects(encodePng({ width: 0, height: 3, data: new Uint8ClampedArray(0) }), UsageError);
  await assert.rejects(encodePng({ width: 2, height: 2, data: new Uint8Array(16) as unknown as Uint8ClampedArray }), UsageError);
  const file = join(dir, 'a-file');
  await writeFile(file, 'x');
  await assert.rejects(writePngAtomic(join(file, 'x.png'), noiseImage(2, 2)), OutputNotWritableError);
});
