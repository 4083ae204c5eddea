// A fake webcam for Chromium (--use-file-for-fake-video-capture=<file.y4m>): a Y4M video made
// from example photos, each drifting across the frame so that a tracker has motion to follow.
import { writeFile } from 'node:fs/promises';
import { driftOffsetPx, frameWithFaceAt, loadFacePicture } from './moving-face.ts';

export interface FakeCameraOptions {
  width?: number;
  height?: number;
  framesPerSecond?: number;
  /** Frames per photo. */
  framesPerPhoto?: number;
  /** Horizontal drift amplitude, pixels (a sine over each photo's frames). */
  driftPx?: number;
}

/**
 * Write a 4:2:0 Y4M (BT.601, studio range) of `photos` shown one after another, each scaled to
 * 80 % of the frame height and moved left and right by `driftPx`. Returns the per-frame horizontal
 * offsets (px), so a test can compare what a tracker saw with what was drawn.
 */
export async function writeFakeCameraVideo(
  path: string,
  photos: string[],
  options: FakeCameraOptions = {},
): Promise<{ offsetsPx: number[]; frameCount: number }> {
  const width = options.width ?? 640,
    height = options.height ?? 480;
  const framesPerPhoto = options.framesPerPhoto ?? 30;
  const chunks: Uint8Array[] = [Buffer.from(`YUV4MPEG2 W${width} H${height} F${options.framesPerSecond ?? 15}:1 Ip A1:1 C420jpeg\n`)];
  const offsetsPx: number[] = [];
  for (const photo of photos) {
    const face = await loadFacePicture(photo, Math.round(0.8 * height));
    for (let f = 0; f < framesPerPhoto; f++) {
      const offset = driftOffsetPx(f, options.driftPx ?? 60, framesPerPhoto);
      offsetsPx.push(offset);
      chunks.push(Buffer.from('FRAME\n'), rgbaToI420(frameWithFaceAt(face, offset, width, height, 60).data, width, height));
    }
  }
  await writeFile(path, Buffer.concat(chunks));
  return { offsetsPx, frameCount: offsetsPx.length };
}

/** RGBA → planar Y, U, V (U and V averaged over 2×2 blocks), BT.601 studio range. */
function rgbaToI420(rgba: Uint8ClampedArray, width: number, height: number): Uint8Array {
  const out = new Uint8Array((width * height * 3) / 2);
  const chromaWidth = width / 2;
  const uOffset = width * height,
    vOffset = uOffset + (width * height) / 4;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 4 * (y * width + x);
      out[y * width + x] = Math.round(16 + 0.257 * rgba[i] + 0.504 * rgba[i + 1] + 0.098 * rgba[i + 2]);
    }
  }
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      let r = 0,
        g = 0,
        b = 0;
      for (const [dx, dy] of [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ]) {
        const i = 4 * ((y + dy) * width + x + dx);
        r += rgba[i] / 4;
        g += rgba[i + 1] / 4;
        b += rgba[i + 2] / 4;
      }
      const c = (y / 2) * chromaWidth + x / 2;
      out[uOffset + c] = Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b);
      out[vOffset + c] = Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b);
    }
  }
  return out;
}
