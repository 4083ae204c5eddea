/**
 * A JPEG compression round trip without the entropy coding (which is lossless and so changes
 * nothing): sRGB → YCbCr, 4:2:0 chroma subsampling, 8×8 DCT, quantisation with the standard
 * (ITU-T T.81 Annex K) tables scaled to a quality the way the IJG encoder does, then the inverse.
 * Gives the real artefacts: blocking, ringing near edges, smeared colour. Plain JS.
 */

/** Annex K.1 luminance quantisation table, row-major. */
const LUMINANCE_TABLE = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103,
  77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
/** Annex K.2 chrominance quantisation table, row-major. */
const CHROMINANCE_TABLE = [
  17,
  18,
  24,
  47,
  99,
  99,
  99,
  99,
  18,
  21,
  26,
  66,
  99,
  99,
  99,
  99,
  24,
  26,
  56,
  99,
  99,
  99,
  99,
  99,
  47,
  66,
  99,
  99,
  99,
  99,
  99,
  99,
  ...new Array(32).fill(99),
];

/** The base table scaled to `quality` (1–100) with the IJG rule, entries clamped to 1..255. */
export function jpegQuantisationTable(quality: number, chroma: boolean): Float32Array {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? 5000 / q : 200 - 2 * q;
  return Float32Array.from(chroma ? CHROMINANCE_TABLE : LUMINANCE_TABLE, (v) => Math.min(255, Math.max(1, Math.floor((v * scale + 50) / 100))));
}

/** cos((2x+1)uπ/16)·c(u) for the orthonormal 8-point DCT, [u*8 + x]. */
const DCT_BASIS = (() => {
  const basis = new Float64Array(64);
  for (let u = 0; u < 8; u++) for (let x = 0; x < 8; x++) basis[u * 8 + x] = (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
  return basis;
})();

/** Quantise one plane (values 0..255, row-major) in place: 8×8 blocks, edge blocks padded by clamping. */
function roundTripPlane(plane: Float32Array, width: number, height: number, table: Float32Array): void {
  const block = new Float64Array(64),
    temp = new Float64Array(64);
  for (let by = 0; by < height; by += 8)
    for (let bx = 0; bx < width; bx += 8) {
      for (let y = 0; y < 8; y++)
        for (let x = 0; x < 8; x++) {
          block[y * 8 + x] = plane[Math.min(height - 1, by + y) * width + Math.min(width - 1, bx + x)] - 128;
        }
      // Forward DCT: rows then columns; quantise; inverse: columns then rows.
      for (let y = 0; y < 8; y++)
        for (let u = 0; u < 8; u++) {
          let s = 0;
          for (let x = 0; x < 8; x++) s += DCT_BASIS[u * 8 + x] * block[y * 8 + x];
          temp[y * 8 + u] = s;
        }
      for (let v = 0; v < 8; v++)
        for (let u = 0; u < 8; u++) {
          let s = 0;
          for (let y = 0; y < 8; y++) s += DCT_BASIS[v * 8 + y] * temp[y * 8 + u];
          const step = table[v * 8 + u];
          block[v * 8 + u] = Math.round(s / step) * step;
        }
      for (let y = 0; y < 8; y++)
        for (let u = 0; u < 8; u++) {
          let s = 0;
          for (let v = 0; v < 8; v++) s += DCT_BASIS[v * 8 + y] * block[v * 8 + u];
          temp[y * 8 + u] = s;
        }
      for (let y = 0; y < 8 && by + y < height; y++)
        for (let x = 0; x < 8 && bx + x < width; x++) {
          let s = 0;
          for (let u = 0; u < 8; u++) s += DCT_BASIS[u * 8 + x] * temp[y * 8 + u];
          plane[(by + y) * width + bx + x] = s + 128;
        }
    }
}

/**
 * JPEG round trip of an interleaved RGB image in place: `rgb` [H*W*3] sRGB values in 0..255
 * (float), row-major, top-left origin. `quality` 1–100 (IJG scale). Results are clamped to 0..255
 * but not rounded.
 */
export function jpegRoundTrip(rgb: Float32Array, width: number, height: number, quality: number): void {
  const count = width * height;
  const luma = new Float32Array(count);
  const halfWidth = Math.ceil(width / 2),
    halfHeight = Math.ceil(height / 2);
  const cb = new Float32Array(halfWidth * halfHeight),
    cr = new Float32Array(halfWidth * halfHeight);
  const weight = new Float32Array(halfWidth * halfHeight);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const p = y * width + x,
        r = rgb[3 * p],
        g = rgb[3 * p + 1],
        b = rgb[3 * p + 2];
      luma[p] = 0.299 * r + 0.587 * g + 0.114 * b;
      // 4:2:0: each chroma sample is the mean of a 2×2 block.
      const h = (y >> 1) * halfWidth + (x >> 1);
      cb[h] += 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
      cr[h] += 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
      weight[h]++;
    }
  for (let h = 0; h < cb.length; h++) {
    cb[h] /= weight[h];
    cr[h] /= weight[h];
  }
  roundTripPlane(luma, width, height, jpegQuantisationTable(quality, false));
  const chromaTable = jpegQuantisationTable(quality, true);
  roundTripPlane(cb, halfWidth, halfHeight, chromaTable);
  roundTripPlane(cr, halfWidth, halfHeight, chromaTable);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const [blue, red] = [upsample(cb, halfWidth, halfHeight, x, y), upsample(cr, halfWidth, halfHeight, x, y)];
      const l = luma[p],
        db = blue - 128,
        dr = red - 128;
      rgb[3 * p] = clamp255(l + 1.402 * dr);
      rgb[3 * p + 1] = clamp255(l - 0.344136 * db - 0.714136 * dr);
      rgb[3 * p + 2] = clamp255(l + 1.772 * db);
    }
}

/** Bilinear ("fancy") chroma upsampling, chroma sample centres at full-resolution 2i + 0.5. */
function upsample(plane: Float32Array, width: number, height: number, x: number, y: number): number {
  const fx = Math.min(width - 1, Math.max(0, (x - 0.5) / 2)),
    fy = Math.min(height - 1, Math.max(0, (y - 0.5) / 2));
  const x0 = Math.floor(fx),
    y0 = Math.floor(fy),
    x1 = Math.min(width - 1, x0 + 1),
    y1 = Math.min(height - 1, y0 + 1);
  const tx = fx - x0,
    ty = fy - y0;
  const top = plane[y0 * width + x0] * (1 - tx) + plane[y0 * width + x1] * tx;
  const bottom = plane[y1 * width + x0] * (1 - tx) + plane[y1 * width + x1] * tx;
  return top * (1 - ty) + bottom * ty;
}

const clamp255 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);
