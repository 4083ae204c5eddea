import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { RgbaImage } from '../../common/image.ts';
import { InputMissingError, NotAnImageError } from '../../common/errors.ts';

/**
 * Read an image file (JPEG, PNG, WebP, … whatever sharp decodes) into an 8-bit RGBA
 * image, rotated upright by its EXIF orientation. Grayscale, RGBA and 16-bit inputs
 * come out as 8-bit RGBA. The file's content decides the format, not its extension.
 */
export async function decodeImageFile(path: string): Promise<RgbaImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputMissingError(`${path}: no such file`);
    if (code === 'EISDIR') throw new InputMissingError(`${path}: is a directory, not an image`);
    throw new InputMissingError(`${path}: cannot read (${code ?? 'unknown error'})`, { cause: error });
  }
  return decodeImageBytes(bytes, path);
}

/** Decode image bytes; `label` names the input in error messages. */
export async function decodeImageBytes(bytes: Uint8Array, label: string): Promise<RgbaImage> {
  try {
    const { data, info } = await sharp(bytes, { failOn: 'truncated', limitInputPixels: 30000 * 30000 })
      .rotate()
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength) };
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new NotAnImageError(`${label}: not a readable image (${reason})`, { cause: error });
  }
}
