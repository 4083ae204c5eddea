/**
 * The camera's focal length from a photo's EXIF block, in pixels of the (upright) image: what
 * a single photo cannot tell the fit by itself (focal length and distance trade off almost
 * exactly in the landmarks). Pure parsing of the bytes sharp returns as `metadata.exif`
 * ("Exif\0\0" + a TIFF structure); every offset, count and value is checked, and anything
 * missing, out of range or malformed gives `undefined`, never an exception.
 */

/** The 35 mm frame's diagonal, mm: "35 mm equivalent" focal lengths keep the diagonal field of view. */
const FULL_FRAME_DIAGONAL_MM = Math.hypot(36, 24);
/** Focal lengths outside this many image long sides are not believed (wrong tags, digital zoom records). */
const PLAUSIBLE_FOCAL_PER_SIDE: readonly [number, number] = [0.3, 30];
/** EXIF blocks are at most 64 KiB (one JPEG APP1 segment). */
const MAX_EXIF_BYTES = 65536;

const TAG_EXIF_IFD = 0x8769;
const TAG_FOCAL_LENGTH = 0x920a;
const TAG_FOCAL_35MM = 0xa405;
const TAG_FOCAL_PLANE_X_RESOLUTION = 0xa20e;
const TAG_FOCAL_PLANE_RESOLUTION_UNIT = 0xa210;
const TAG_PIXEL_X_DIMENSION = 0xa002;
const TAG_PIXEL_Y_DIMENSION = 0xa003;

export interface ExifFocal {
  /** Focal length in pixels of an image `width`×`height` (the upright decoded image). */
  focalPx: number;
  /** Which tags gave it. */
  source: '35mm-equivalent' | 'focal-plane-resolution';
}

/**
 * Focal length in pixels for an image of `width`×`height` pixels (upright, possibly downscaled
 * from the camera's frame), from EXIF bytes. Prefers FocalLengthIn35mmFilm (diagonal
 * equivalence), else FocalLength with FocalPlaneXResolution (sensor pixels per unit) scaled
 * from the recorded pixel dimensions. `undefined` when the tags are absent or implausible.
 */
export function focalFromExif(exif: Uint8Array | undefined, width: number, height: number): ExifFocal | undefined {
  if (!exif || exif.length < 14 || exif.length > MAX_EXIF_BYTES || !(width > 0) || !(height > 0)) return undefined;
  const start = exif[0] === 0x45 && exif[1] === 0x78 && exif[2] === 0x69 && exif[3] === 0x66 ? 6 : 0; // "Exif\0\0"
  const tiff = new DataView(exif.buffer, exif.byteOffset + start, exif.byteLength - start);
  if (tiff.byteLength < 8) return undefined;
  const order = tiff.getUint16(0);
  if (order !== 0x4949 && order !== 0x4d4d) return undefined;
  const little = order === 0x4949;
  if (tiff.getUint16(2, little) !== 42) return undefined;
  const ifd0 = readIfd(tiff, tiff.getUint32(4, little), little);
  const exifOffset = ifd0?.get(TAG_EXIF_IFD);
  const tags = exifOffset?.type === 4 ? readIfd(tiff, exifOffset.valueOffset, little) : undefined;
  if (!tags) return undefined;
  const longSide = Math.max(width, height);
  const plausible = (focalPx: number) => focalPx >= PLAUSIBLE_FOCAL_PER_SIDE[0] * longSide && focalPx <= PLAUSIBLE_FOCAL_PER_SIDE[1] * longSide;

  const focal35 = readNumber(tiff, tags.get(TAG_FOCAL_35MM), little);
  if (focal35 !== undefined && focal35 > 0) {
    const focalPx = (focal35 * Math.hypot(width, height)) / FULL_FRAME_DIAGONAL_MM;
    if (plausible(focalPx)) return { focalPx, source: '35mm-equivalent' };
  }
  const focalMm = readNumber(tiff, tags.get(TAG_FOCAL_LENGTH), little);
  const resolution = readNumber(tiff, tags.get(TAG_FOCAL_PLANE_X_RESOLUTION), little);
  const unit = readNumber(tiff, tags.get(TAG_FOCAL_PLANE_RESOLUTION_UNIT), little) ?? 2;
  const recordedWidth = readNumber(tiff, tags.get(TAG_PIXEL_X_DIMENSION), little);
  const recordedHeight = readNumber(tiff, tags.get(TAG_PIXEL_Y_DIMENSION), little);
  const mmPerUnit = unit === 2 ? 25.4 : unit === 3 ? 10 : unit === 4 ? 1 : undefined;
  if (focalMm === undefined || !(focalMm > 0) || !(resolution! > 0) || !mmPerUnit || !(recordedWidth! > 0) || !(recordedHeight! > 0)) return undefined;
  // Sensor pixels of the recorded frame → pixels of this (maybe rotated, maybe downscaled) image.
  const recordedLongSide = Math.max(recordedWidth!, recordedHeight!);
  const focalPx = (focalMm * (resolution! / mmPerUnit) * longSide) / recordedLongSide;
  return plausible(focalPx) ? { focalPx, source: 'focal-plane-resolution' } : undefined;
}

interface IfdEntry {
  type: number;
  count: number;
  valueOffset: number;
  entryOffset: number;
}

/** The entries of the IFD at `offset` (tag → entry); undefined when it does not fit in the block. */
function readIfd(tiff: DataView, offset: number, little: boolean): Map<number, IfdEntry> | undefined {
  if (!(offset >= 8) || offset + 2 > tiff.byteLength) return undefined;
  const count = tiff.getUint16(offset, little);
  if (offset + 2 + 12 * count > tiff.byteLength) return undefined;
  const entries = new Map<number, IfdEntry>();
  for (let i = 0; i < count; i++) {
    const at = offset + 2 + 12 * i;
    entries.set(tiff.getUint16(at, little), {
      type: tiff.getUint16(at + 2, little),
      count: tiff.getUint32(at + 4, little),
      valueOffset: tiff.getUint32(at + 8, little),
      entryOffset: at + 8,
    });
  }
  return entries;
}

/** The first value of a SHORT (3), LONG (4) or RATIONAL (5) entry. */
function readNumber(tiff: DataView, entry: IfdEntry | undefined, little: boolean): number | undefined {
  if (!entry || entry.count < 1) return undefined;
  if (entry.type === 3) return tiff.getUint16(entry.entryOffset, little);
  if (entry.type === 4) return tiff.getUint32(entry.entryOffset, little);
  if (entry.type === 5) {
    if (entry.valueOffset + 8 > tiff.byteLength) return undefined;
    const denominator = tiff.getUint32(entry.valueOffset + 4, little);
    return denominator === 0 ? undefined : tiff.getUint32(entry.valueOffset, little) / denominator;
  }
  return undefined;
}
