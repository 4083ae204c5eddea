import type { RgbaImage } from '../common/image.ts';
import { jpegRoundTrip } from './studio-jpeg.ts';
import { StudioRandom } from './studio-random.ts';

/** Camera effects applied after shading. */
export interface StudioPostProcess {
  seed: number;
  /** Gaussian lens blur σ in pixels (0 = none). */
  blurSigmaPx: number;
  /** Gaussian sensor noise σ in 8-bit levels. */
  noiseSigma: number;
  /** Exposure multiplier before the sRGB curve. */
  exposure: number;
  /** JPEG quality (IJG scale, 1–100) of the compression round trip; 100 still quantises a little. */
  jpegQuality: number;
}

/** Point-in-polygon (even-odd rule); polygon as [x0, y0, x1, y1, …]. */
export function pointInPolygon(polygon: ArrayLike<number>, x: number, y: number): boolean {
  let inside = false;
  const n = polygon.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = polygon[2 * i],
      yi = polygon[2 * i + 1],
      xj = polygon[2 * j],
      yj = polygon[2 * j + 1];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * Linear RGB [H*W*3] → 8-bit sRGB RGBA in `image`: exposure, lens blur, sRGB curve, sensor
 * noise, JPEG round trip (the camera compresses what the sensor saw), 8-bit quantisation.
 */
export function applyStudioPostProcess(linear: Float32Array, image: RgbaImage, post: StudioPostProcess): void {
  const { width, height } = image;
  const blurred = post.blurSigmaPx > 0 ? gaussianBlur(linear, width, height, post.blurSigmaPx) : linear;
  const encoded = new Float32Array(width * height * 3);
  for (let i = 0; i < encoded.length; i++) {
    const v = Math.min(1, Math.max(0, blurred[i] * post.exposure));
    encoded[i] = 255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055);
  }
  const random = new StudioRandom(post.seed);
  for (let i = 0; i < encoded.length; i++) encoded[i] += post.noiseSigma * random.normal();
  jpegRoundTrip(encoded, width, height, post.jpegQuality);
  for (let pixel = 0; pixel < width * height; pixel++) {
    for (let k = 0; k < 3; k++) image.data[4 * pixel + k] = Math.round(encoded[3 * pixel + k]);
    image.data[4 * pixel + 3] = 255;
  }
}

function gaussianBlur(values: Float32Array, width: number, height: number, sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    kernel[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
    sum += kernel[i + radius];
  }
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  const pass = (input: Float32Array, horizontal: boolean) => {
    const output = new Float32Array(input.length);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        let r = 0,
          g = 0,
          b = 0;
        for (let i = -radius; i <= radius; i++) {
          const sx = horizontal ? Math.min(width - 1, Math.max(0, x + i)) : x;
          const sy = horizontal ? y : Math.min(height - 1, Math.max(0, y + i));
          const w = kernel[i + radius],
            s = 3 * (sy * width + sx);
          r += w * input[s];
          g += w * input[s + 1];
          b += w * input[s + 2];
        }
        const o = 3 * (y * width + x);
        output[o] = r;
        output[o + 1] = g;
        output[o + 2] = b;
      }
    return output;
  };
  return pass(pass(values, true), false);
}
