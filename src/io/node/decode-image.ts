/**
 * Image decoding for Node with sharp: any format sharp reads (JPEG, PNG, WebP, AVIF, TIFF,
 * GIF first frame, …) to an 8-bit RGBA `RgbaImage`, turned upright by its EXIF orientation.
 * Grayscale, RGBA, CMYK and 16-bit inputs all come out as 8-bit sRGB RGBA (16-bit values
 * are truncated to their high byte, libvips' conversion: off from v*255/65535 by under 1).
 * The file's content decides the format, never its extension. Damaged files (truncated
 * JPEG or PNG) fail instead of coming out partly grey.
 */
import sharp, { type Sharp, type SharpOptions } from 'sharp';
import type { RgbaImage } from '../../common/image.ts';
import { InputMissingError, NotAnImageError, invalidParameterError } from '../../common/errors.ts';
import { focalFromExif } from '../exif-focal.ts';
import { formatBytes, readRegularFile, UnreadableFileError } from './read-regular-file.ts';

/** Largest image decoded at full size (sharp's default guard: 16383², ~1 GiB of RGBA). */
export const MAX_FULL_DECODE_PIXELS = 0x3fff * 0x3fff;
/** Largest image accepted when decoding with `maxSide` (it is shrunk while it is read). */
export const MAX_SCALED_DECODE_PIXELS = 30000 * 30000;
/**
 * Largest image file read (bytes). A camera JPEG is 2–30 MB and the 30000² limit above, as a
 * JPEG, is about 150–250 MB; past this a file is refused before reading (also an endless
 * device or a growing file: reading stops here).
 */
export const MAX_INPUT_FILE_BYTES = 256 * 1024 * 1024;

export interface DecodeOptions {
  /** Longest side, in pixels, of the decoded image; larger images are downscaled while
   * decoding (JPEG shrink-on-load), which saves most of the time and memory. */
  maxSide: number;
}

/** A decoded image and how it maps to the original (EXIF-upright) pixel grid. */
export interface DecodedImage {
  image: RgbaImage;
  /** image.width / originalWidth (≤ 1). Original pixel coordinates = decoded / scale
   * (pixel centres at +0.5 in both grids); the y axis matches to within 0.5 decoded px. */
  scale: number;
  /** Size of the upright original, before any downscaling. */
  originalWidth: number;
  originalHeight: number;
  /** The camera's focal length in pixels of `image`, from the file's EXIF when it records one. */
  exifFocalPx?: number;
}

/**
 * Read an image file into an 8-bit RGBA image, upright by EXIF orientation.
 * Errors: InputMissingError (exit 3) when the file is missing or unreadable;
 * NotAnImageError (exit 4) for a directory, an empty file, a non-image, or damaged data.
 */
export async function decodeImageFile(path: string): Promise<RgbaImage> {
  return decodeImageBytes(await readInput(path), path);
}

/** Decode image bytes; `label` names the input in error messages. */
export async function decodeImageBytes(bytes: Uint8Array, label: string): Promise<RgbaImage> {
  checkNotEmpty(bytes, label);
  try {
    return await decodeRaw(sharp(bytes, decoderOptions(MAX_FULL_DECODE_PIXELS)));
  } catch (error) {
    throw decodeError(error, label, MAX_FULL_DECODE_PIXELS);
  }
}

/** Like decodeImageFile, but the longer side of the result is at most `options.maxSide`. */
export async function decodeImageFileScaled(path: string, options: DecodeOptions): Promise<DecodedImage> {
  checkDecodeOptions(options);
  return decodeImageBytesScaled(await readInput(path), path, options);
}

/** Like decodeImageBytes, but the longer side of the result is at most `options.maxSide`. */
export async function decodeImageBytesScaled(bytes: Uint8Array, label: string, options: DecodeOptions): Promise<DecodedImage> {
  checkDecodeOptions(options);
  checkNotEmpty(bytes, label);
  try {
    const input = sharp(bytes, decoderOptions(MAX_SCALED_DECODE_PIXELS));
    const metadata = await input.metadata();
    const originalWidth = metadata.autoOrient?.width ?? metadata.width;
    const originalHeight = metadata.autoOrient?.height ?? metadata.height;
    if (!originalWidth || !originalHeight) throw new Error('image has no size');
    const focal = (image: RgbaImage) => {
      const found = focalFromExif(metadata.exif, image.width, image.height);
      return found ? { exifFocalPx: found.focalPx } : {};
    };
    if (Math.max(originalWidth, originalHeight) <= options.maxSide) {
      if (originalWidth * originalHeight > MAX_FULL_DECODE_PIXELS) throw new Error('exceeds pixel limit');
      const image = await decodeRaw(input);
      return { image, scale: 1, originalWidth, originalHeight, ...focal(image) };
    }
    const image = await decodeRaw(input.resize({ width: options.maxSide, height: options.maxSide, fit: 'inside' }));
    return { image, scale: image.width / originalWidth, originalWidth, originalHeight, ...focal(image) };
  } catch (error) {
    throw decodeError(error, label, MAX_SCALED_DECODE_PIXELS);
  }
}

/** Only regular files, at most MAX_INPUT_FILE_BYTES: a FIFO, a device or a huge file is exit 4, at once. */
async function readInput(path: string): Promise<Uint8Array> {
  try {
    return await readRegularFile(path, MAX_INPUT_FILE_BYTES);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputMissingError(`${path}: no such file`, { cause: error });
    if (code === 'EISDIR') throw new NotAnImageError(`${path}: is a directory, not an image`, { cause: error });
    if (code === 'ENXIO') throw new NotAnImageError(`${path}: not a regular file (a socket), not an image`, { cause: error });
    if (error instanceof UnreadableFileError && error.code === 'EFBIG') {
      throw new NotAnImageError(`${path}: file too large (over ${formatBytes(MAX_INPUT_FILE_BYTES)}), not read`, { cause: error });
    }
    if (error instanceof UnreadableFileError) throw new NotAnImageError(`${path}: ${error.message}, not an image`, { cause: error });
    throw new InputMissingError(`${path}: cannot read (${code ?? 'unknown error'})`, { cause: error });
  }
}

function decoderOptions(limitInputPixels: number): SharpOptions {
  // failOn 'truncated' rejects cut-off JPEG/PNG data (sharp's 'none' would fill the rest
  // with grey) but accepts the harmless warnings some cameras' files raise.
  return { failOn: 'truncated', limitInputPixels, autoOrient: true };
}

async function decodeRaw(pipeline: Sharp): Promise<RgbaImage> {
  const { data, info } = await pipeline.toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 4 || data.length !== info.width * info.height * 4) {
    throw new Error(`unexpected decoder output ${info.width}x${info.height}x${info.channels}`);
  }
  return { width: info.width, height: info.height, data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength) };
}

function checkNotEmpty(bytes: Uint8Array, label: string): void {
  if (bytes.length === 0) throw new NotAnImageError(`${label}: empty file, not an image`);
}

function checkDecodeOptions(options: DecodeOptions): void {
  const maxSide = options?.maxSide;
  if (!Number.isInteger(maxSide) || maxSide < 1) throw invalidParameterError('maxSide', 'a positive integer', maxSide);
}

/** Turn sharp's multi-line messages into one line that says what is wrong with the file. */
function decodeError(error: unknown, label: string, pixelLimit: number): NotAnImageError {
  const reason = String((error as Error)?.message ?? error)
    .split('\n')[0]
    .trim();
  let message: string;
  if (/unsupported image format|bad seek|no size/i.test(reason)) message = `${label}: not an image (unrecognised format)`;
  else if (/pixel limit/i.test(reason))
    message = `${label}: image too large to decode (over ${pixelLimit} pixels${pixelLimit === MAX_FULL_DECODE_PIXELS ? '; decode it with maxSide' : ''})`;
  else if (/premature end|truncat|read error|corrupt|invalid|bad/i.test(reason)) message = `${label}: damaged or truncated image data (${reason})`;
  else message = `${label}: not a readable image (${reason})`;
  return new NotAnImageError(message, { cause: error });
}
