// Video frames made from a still photo: the photo pasted into a plain frame at a horizontal
// offset, so that a tracker has motion to follow (the tracker's test, bench/tracker.ts and the
// fake camera's Y4M use it).
import sharp from 'sharp';
import type { RgbaImage } from '../../src/common/image.ts';

export interface FacePicture {
  data: Uint8Array;
  width: number;
  height: number;
}

/** The photo as RGBA, scaled to `heightPx` rows. */
export async function loadFacePicture(path: string, heightPx: number): Promise<FacePicture> {
  const { data, info } = await sharp(path).rotate().resize({ height: heightPx }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** A `width`×`height` frame of grey `background` with the picture centred, then moved `offsetPx` right. */
export function frameWithFaceAt(face: FacePicture, offsetPx: number, width = 640, height = 480, background = 90): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4).fill(background);
  const left = Math.round((width - face.width) / 2) + offsetPx,
    top = Math.round((height - face.height) / 2);
  const from = Math.max(0, -left),
    to = Math.min(face.width, width - left);
  for (let y = Math.max(0, -top); y < Math.min(face.height, height - top); y++) {
    if (to > from) data.set(face.data.subarray(4 * (y * face.width + from), 4 * (y * face.width + to)), 4 * ((top + y) * width + left + from));
  }
  return { width, height, data };
}

/** The horizontal offset of frame `index` of a sine drift of amplitude `driftPx` and period `periodFrames`. */
export function driftOffsetPx(index: number, driftPx: number, periodFrames: number): number {
  return Math.round(driftPx * Math.sin((2 * Math.PI * index) / periodFrames));
}
