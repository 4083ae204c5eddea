import { test } from 'node:test';
import assert from 'node:assert/strict';
import { focalFromExif } from '../../src/io/exif-focal.ts';

type Entry = [tag: number, type: 3 | 4 | 5, value: number | [number, number]];

/** A minimal "Exif\0\0" + TIFF block: IFD0 with the Exif IFD pointer, then the Exif IFD with `entries`. */
function exifBlock(entries: Entry[], little = true): Uint8Array {
  const ifd0 = 8,
    exifIfd = ifd0 + 2 + 12 + 4,
    data = exifIfd + 2 + 12 * entries.length + 4;
  const tiff = new DataView(new ArrayBuffer(data + 8 * entries.length));
  tiff.setUint16(0, little ? 0x4949 : 0x4d4d);
  tiff.setUint16(2, 42, little);
  tiff.setUint32(4, ifd0, little);
  tiff.setUint16(ifd0, 1, little);
  tiff.setUint16(ifd0 + 2, 0x8769, little);
  tiff.setUint16(ifd0 + 4, 4, little);
  tiff.setUint32(ifd0 + 6, 1, little);
  tiff.setUint32(ifd0 + 10, exifIfd, little);
  tiff.setUint16(exifIfd, entries.length, little);
  entries.forEach(([tag, type, value], i) => {
    const at = exifIfd + 2 + 12 * i;
    tiff.setUint16(at, tag, little);
    tiff.setUint16(at + 2, type, little);
    tiff.setUint32(at + 4, 1, little);
    if (type === 3) tiff.setUint16(at + 8, value as number, little);
    else if (type === 4) tiff.setUint32(at + 8, value as number, little);
    else {
      const offset = data + 8 * i;
      tiff.setUint32(at + 8, offset, little);
      tiff.setUint32(offset, (value as [number, number])[0], little);
      tiff.setUint32(offset + 4, (value as [number, number])[1], little);
    }
  });
  const bytes = new Uint8Array(6 + tiff.byteLength);
  bytes.set([0x45, 0x78, 0x69, 0x66, 0, 0]);
  bytes.set(new Uint8Array(tiff.buffer), 6);
  return bytes;
}

test('focalFromExif: 35 mm equivalent focal length, by diagonal, either byte order', () => {
  for (const little of [true, false]) {
    const focal = focalFromExif(exifBlock([[0xa405, 3, 50]], little), 4000, 3000);
    assert.equal(focal?.source, '35mm-equivalent');
    // 50 mm on a 43.27 mm diagonal, 5000 px diagonal.
    assert.ok(Math.abs(focal!.focalPx - (50 * 5000) / Math.hypot(36, 24)) < 1e-9);
  }
});

test('focalFromExif: focal length and focal-plane resolution, scaled to a downscaled image', () => {
  // 4.2 mm lens, 7000 px per cm on the sensor (1.4 µm pixels) (unit 3 = cm), recorded at 4000×3000, decoded at 1000×750.
  const block = exifBlock([
    [0x920a, 5, [42, 10]],
    [0xa20e, 5, [7000, 1]],
    [0xa210, 3, 3],
    [0xa002, 4, 4000],
    [0xa003, 4, 3000],
  ]);
  const focal = focalFromExif(block, 1000, 750);
  assert.equal(focal?.source, 'focal-plane-resolution');
  assert.ok(Math.abs(focal!.focalPx - 4.2 * 700 * 0.25) < 1e-9, String(focal?.focalPx));
});

test('focalFromExif: absent, implausible or malformed tags give undefined', () => {
  assert.equal(focalFromExif(undefined, 100, 100), undefined);
  assert.equal(focalFromExif(exifBlock([]), 100, 100), undefined);
  assert.equal(focalFromExif(exifBlock([[0xa405, 3, 0]]), 100, 100), undefined);
  assert.equal(focalFromExif(exifBlock([[0xa405, 3, 60000]]), 100, 100), undefined); // 60 m: not believed
  assert.equal(focalFromExif(exifBlock([[0x920a, 5, [42, 0]]]), 100, 100), undefined); // zero denominator
  const block = exifBlock([[0xa405, 3, 50]]);
  for (let cut = 0; cut < block.length; cut += 3) assert.doesNotThrow(() => focalFromExif(block.subarray(0, cut), 100, 100));
  const corrupt = exifBlock([[0x920a, 5, [42, 10]]]);
  new DataView(corrupt.buffer).setUint32(6 + 8 + 2 + 8, 0xfffffff0, true); // Exif IFD pointer far outside
  assert.equal(focalFromExif(corrupt, 100, 100), undefined);
});
