// A fake webcam for Chromium (--use-file-for-fake-video-capture=<file.y4m>): a Y4M video made
// from example photos, each drifting across the frame so that a tracker has motion to follow.
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';

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
export async function writeFakeCameraVideo(path: string, photos: string[], options: FakeCameraOptions = {}): Promise<{ offsetsPx: number[]; frameCount: number }> {
  const width = options.width ?? 640, height = options.height ?? 480;
  const framesPerPhoto = options.framesPerPhoto ?? 30;
  const drift = options.driftPx ?? 60;
  const chunks: Uint8Array[] = [Buffer.from(`YUV4MPEG2 W${width} H${height} F${options.framesPerSecond ?? 15}:1 Ip A1:1 C420jpeg\n`)];
  const offsetsPx: number[] = [];
  for (const photo of photos) {
    const face = await sharp(photo).rotate().resize({ height: Math.round(0.8 * height) }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    for (let f = 0; f < framesPerPhoto; f++) {
      const offset = Math.round(drift * Math.sin((2 * Math.PI * f) / framesPerPhoto));
      offsetsPx.push(offset);
      const left = Math.round((width - face.info.width) / 2) + offset, top = Math.round((height - face.info.height) / 2);
      const rgb = new Uint8Array(width * height * 3).fill(60);
      for (let y = 0; y < face.info.height; y++) {
        for (let x = 0; x < face.info.width; x++) {
          const X = left + x, Y = top + y;
          if (X < 0 || X >= width || Y < 0 || Y >= height) continue;
          const source = 3 * (y * face.info.width + x), target = 3 * (Y * width + X);
          rgb[target] = face.data[source]; rgb[target + 1] = face.data[source + 1]; rgb[target + 2] = face.data[source + 2];
        }
      }
      chunks.push(Buffer.from('FRAME\n'), rgbToI420(rgb, width, height));
    }
  }
  await writeFile(path, Buffer.concat(chunks));
  return { offsetsPx, frameCount: offsetsPx.length };
}

/** RGB → planar Y, U, V (U and V averaged over 2×2 blocks), BT.601 studio range. */
function rgbToI420(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3 / 2);
  const chromaWidth = width / 2;
  const uOffset = width * height, vOffset = uOffset + (width * height) / 4;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 3 * (y * width + x);
      out[y * width + x] = Math.round(16 + 0.257 * rgb[i] + 0.504 * rgb[i + 1] + 0.098 * rgb[i + 2]);
    }
  }
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      let r = 0, g = 0, b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const i = 3 * ((y + dy) * width + x + dx);
        r += rgb[i] / 4; g += rgb[i + 1] / 4; b += rgb[i + 2] / 4;
      }
      const c = (y / 2) * chromaWidth + x / 2;
      out[uOffset + c] = Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b);
      out[vOffset + c] = Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b);
    }
  }
  return out;
}
