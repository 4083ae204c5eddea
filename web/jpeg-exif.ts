// The EXIF block of a JPEG file, for the camera's focal length (src/io/exif-focal.ts) as the CLI
// reads it through sharp: the page then holds the fit to the same focal length as the CLI does.

/** Bytes of a file's start that are searched: EXIF sits in an APP1 segment right after SOI (≤ 64 KiB). */
export const EXIF_SEARCH_BYTES = 128 * 1024;

/**
 * The payload of a JPEG's EXIF APP1 segment ("Exif\0\0" + a TIFF structure, what sharp gives as
 * `metadata.exif`), or undefined for other files and JPEGs without one. Reads segment lengths
 * only up to the start of the image data; a malformed length ends the search.
 */
export function jpegExifBlock(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1];
    if (marker === 0xda || marker === 0xd9) return undefined; // the image data: no metadata after it
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (length < 2 || at + 2 + length > bytes.length) return undefined;
    const isExif = marker === 0xe1 && length >= 8 && bytes[at + 4] === 0x45 && bytes[at + 5] === 0x78 && bytes[at + 6] === 0x69 && bytes[at + 7] === 0x66;
    if (isExif) return bytes.subarray(at + 4, at + 2 + length);
    at += 2 + length;
  }
  return undefined;
}
