/** PNG encoding of `RgbaImage`s (overlays, renders) with sharp, and atomic PNG writes. */
import sharp from 'sharp';
import type { RgbaImage } from '../../common/image.ts';
import { UsageError } from '../../common/errors.ts';
import { writeFileAtomic } from './atomic-write.ts';

/**
 * Encode an 8-bit RGBA image (rows from the top) as a lossless 8-bit RGBA PNG.
 * Alpha is kept as given; pass alpha 255 for an opaque image.
 */
export async function encodePng(image: RgbaImage): Promise<Uint8Array> {
  checkImage(image);
  const { width, height, data } = image;
  const png = await sharp(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), {
    raw: { width, height, channels: 4 },
  })
    .png({ compressionLevel: 6, adaptiveFiltering: true })
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/** Encode `image` as PNG and write it to `path` atomically (see writeFileAtomic). */
export async function writePngAtomic(path: string, image: RgbaImage): Promise<void> {
  await writeFileAtomic(path, await encodePng(image));
}

function checkImage(image: RgbaImage): void {
  const { width, height, data } = image ?? {};
  const ok =
    Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 && data instanceof Uint8ClampedArray && data.length === width * height * 4;
  if (!ok) {
    const got = data instanceof Uint8ClampedArray ? `${width}x${height} with ${data.length} bytes` : `${width}x${height} without a Uint8ClampedArray`;
    throw new UsageError(`Expected an RgbaImage with data of length width*height*4 for image but received ${got}`);
  }
}
