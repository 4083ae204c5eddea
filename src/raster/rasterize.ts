import { invalidParameterError } from '../common/errors.ts';

/**
 * Output of {@link rasterize}: for every pixel, which triangle is visible there and where on it.
 * Pixels are row-major from the top row (row 0 = top of the image), like `RgbaImage`.
 */
export interface Rasterization {
  width: number;
  height: number;
  /** [H*W] int32: index + 1 of the visible triangle; 0 = empty pixel. */
  triangleIdPlusOne: Int32Array;
  /** [H*W*2] float32: perspective-correct (b1, b2) weights of the triangle's vertices 1 and 2; b0 = 1 - b1 - b2. 0 where empty. */
  barycentrics: Float32Array;
  /** [H*W] float32: z/w in NDC of the visible surface at the pixel centre (smaller = nearer); +Infinity where empty. */
  depth: Float32Array;
}

export interface RasterizeOptions {
  /**
   * Skip triangles that are clockwise in NDC (x right, y up), i.e. back faces of a
   * counter-clockwise (right-handed, outward) mesh. Default false: both windings are drawn.
   */
  cullBackFaces?: boolean;
}

/** Vertices further than this from the image (in pixels) make their triangles be skipped, keeping fixed-point sums exact. */
const GUARD_BAND_PX = 2 ** 22;

/**
 * Rasterise triangles into per-pixel triangle ids, perspective-correct barycentrics and depth.
 * Plain JavaScript (no tensors), exact and deterministic; visibility is not differentiable
 * (gradients come from {@link interpolate}, which recomputes the barycentrics from positions).
 *
 * Conventions (the only place where NDC meets image rows):
 * - NDC x = -1 is the left image edge, +1 the right; NDC y = +1 is the top edge (row 0).
 * - Pixel (column i, row j) has its centre at x_ndc = (i + 0.5) / W * 2 - 1, y_ndc = 1 - (j + 0.5) / H * 2.
 * - Depth is z/w; the smaller value wins. There is no depth-range clipping.
 * - Triangles with any vertex at w <= 0 (behind the eye), a non-finite coordinate, or a vertex
 *   beyond a 2^22-pixel guard band are skipped: no near-plane clipping, which faces in front
 *   of a camera never need.
 * - Coverage is decided on vertex positions snapped to a fixed-point grid (1/65536 px at
 *   image sizes up to 256 px) with integer edge functions, and a top-left fill rule: a pixel
 *   centre exactly on an edge belongs to the triangle on whose left/top side the edge is,
 *   so on a watertight mesh every pixel centre is drawn exactly once. Barycentrics are then
 *   computed in float64 from the unsnapped positions.
 * - Equal depths: the triangle listed first wins.
 *
 * @param positionsClip [V*4] float32, clip-space (x, y, z, w) per vertex.
 * @param triangles [F*3] uint32 vertex indices.
 * @param resolution image size in pixels.
 */
export function rasterize(
  positionsClip: Float32Array,
  triangles: Uint32Array,
  resolution: { width: number; height: number },
  options: RasterizeOptions = {},
): Rasterization {
  const { width, height } = resolution;
  validate(positionsClip, triangles, width, height);
  const vertexCount = positionsClip.length / 4;
  const pixelCount = width * height;
  const cullBackFaces = options.cullBackFaces ?? false;

  // Screen coordinates in pixels (x right, y down), z/w, and a validity flag per vertex.
  const screenX = new Float64Array(vertexCount);
  const screenY = new Float64Array(vertexCount);
  const zOverW = new Float64Array(vertexCount);
  const valid = new Uint8Array(vertexCount);
  let maxAbsPx = Math.max(width, height, 1);
  for (let v = 0; v < vertexCount; v++) {
    const x = positionsClip[4 * v],
      y = positionsClip[4 * v + 1],
      z = positionsClip[4 * v + 2],
      w = positionsClip[4 * v + 3];
    if (!(w > 0)) continue;
    const sx = (x / w + 1) * 0.5 * width;
    const sy = (1 - y / w) * 0.5 * height;
    const zw = z / w;
    if (!Number.isFinite(sx) || !Number.isFinite(sy) || !Number.isFinite(zw)) continue;
    if (Math.abs(sx) > GUARD_BAND_PX || Math.abs(sy) > GUARD_BAND_PX) continue;
    screenX[v] = sx;
    screenY[v] = sy;
    zOverW[v] = zw;
    valid[v] = 1;
    maxAbsPx = Math.max(maxAbsPx, Math.abs(sx), Math.abs(sy));
  }

  // Fixed-point scale: edge functions are sums of two products of coordinate differences,
  // at most 8·M²·S² for coordinates within M pixels; keep that below 2^53 so every value is exact.
  const subpixelBits = Math.max(1, Math.min(16, Math.floor(24 - Math.log2(maxAbsPx))));
  const scale = 2 ** subpixelBits;
  const half = scale / 2;
  const fixedX = new Float64Array(vertexCount);
  const fixedY = new Float64Array(vertexCount);
  for (let v = 0; v < vertexCount; v++) {
    if (!valid[v]) continue;
    fixedX[v] = Math.round(screenX[v] * scale);
    fixedY[v] = Math.round(screenY[v] * scale);
  }

  const triangleIdPlusOne = new Int32Array(pixelCount);
  const depthBuffer = new Float64Array(pixelCount).fill(Infinity);
  const triangleCount = triangles.length / 3;

  for (let f = 0; f < triangleCount; f++) {
    const i0 = triangles[3 * f],
      i1 = triangles[3 * f + 1],
      i2 = triangles[3 * f + 2];
    if (!valid[i0] || !valid[i1] || !valid[i2]) continue;
    const x0 = fixedX[i0],
      y0 = fixedY[i0];
    let x1 = fixedX[i1],
      y1 = fixedY[i1],
      x2 = fixedX[i2],
      y2 = fixedY[i2];
    let area2 = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0);
    if (area2 === 0) continue;
    // Counter-clockwise in NDC (y up) is negative area here (y down).
    if (cullBackFaces && area2 > 0) continue;
    let z0 = zOverW[i0],
      z1 = zOverW[i1],
      z2 = zOverW[i2];
    const swapped = area2 < 0;
    if (swapped) {
      // Canonical orientation so that "inside" is E >= 0 for every edge; depth keeps the original order below.
      let t = x1;
      x1 = x2;
      x2 = t;
      t = y1;
      y1 = y2;
      y2 = t;
      t = z1;
      z1 = z2;
      z2 = t;
      area2 = -area2;
    }

    const minX = Math.min(x0, x1, x2),
      maxX = Math.max(x0, x1, x2);
    const minY = Math.min(y0, y1, y2),
      maxY = Math.max(y0, y1, y2);
    const colStart = Math.max(0, Math.ceil((minX - half) / scale));
    const colEnd = Math.min(width - 1, Math.floor((maxX - half) / scale));
    const rowStart = Math.max(0, Math.ceil((minY - half) / scale));
    const rowEnd = Math.min(height - 1, Math.floor((maxY - half) / scale));
    if (colStart > colEnd || rowStart > rowEnd) continue;

    // Edge k is opposite vertex k: E_k(p) = (b - a) × (p - a) for the edge a→b.
    const dx0 = x2 - x1,
      dy0 = y2 - y1;
    const dx1 = x0 - x2,
      dy1 = y0 - y2;
    const dx2 = x1 - x0,
      dy2 = y1 - y0;
    // Top-left rule: a "left" edge (going up, dy < 0) or "top" edge (horizontal, going right)
    // includes E = 0; integer E makes "E >= 0" equal to "E > -1".
    const min0 = dy0 < 0 || (dy0 === 0 && dx0 > 0) ? 0 : 1;
    const min1 = dy1 < 0 || (dy1 === 0 && dx1 > 0) ? 0 : 1;
    const min2 = dy2 < 0 || (dy2 === 0 && dx2 > 0) ? 0 : 1;
    const step0 = -dy0 * scale,
      step1 = -dy1 * scale,
      step2 = -dy2 * scale;
    const px0 = colStart * scale + half;

    for (let row = rowStart; row <= rowEnd; row++) {
      const py = row * scale + half;
      let e0 = dx0 * (py - y1) - dy0 * (px0 - x1);
      let e1 = dx1 * (py - y2) - dy1 * (px0 - x2);
      let e2 = dx2 * (py - y0) - dy2 * (px0 - x0);
      let pixel = row * width + colStart;
      let entered = false;
      for (let col = colStart; col <= colEnd; col++, pixel++, e0 += step0, e1 += step1, e2 += step2) {
        if (e0 >= min0 && e1 >= min1 && e2 >= min2) {
          entered = true;
          // Screen-space linear z/w, summed in the triangle's own vertex order (determinism of ties).
          const depth = swapped ? (z0 * e0 + z2 * e2 + z1 * e1) / area2 : (z0 * e0 + z1 * e1 + z2 * e2) / area2;
          if (depth < depthBuffer[pixel]) {
            depthBuffer[pixel] = depth;
            triangleIdPlusOne[pixel] = f + 1;
          }
        } else if (entered) {
          break; // convex: the span in this row is over
        }
      }
    }
  }

  // Barycentrics only for the winners, from unsnapped clip-space positions (homogeneous 2D).
  const barycentrics = new Float32Array(pixelCount * 2);
  const depth = new Float32Array(pixelCount);
  for (let pixel = 0; pixel < pixelCount; pixel++) {
    const id = triangleIdPlusOne[pixel];
    if (id === 0) {
      depth[pixel] = Infinity;
      continue;
    }
    const col = pixel % width,
      row = (pixel - col) / width;
    const ndcX = ((col + 0.5) / width) * 2 - 1;
    const ndcY = 1 - ((row + 0.5) / height) * 2;
    const t = 3 * (id - 1);
    const v0 = 4 * triangles[t],
      v1 = 4 * triangles[t + 1],
      v2 = 4 * triangles[t + 2];
    const [b1, b2] = perspectiveBarycentrics(positionsClip, v0, v1, v2, ndcX, ndcY);
    const b0 = 1 - b1 - b2;
    barycentrics[2 * pixel] = b1;
    barycentrics[2 * pixel + 1] = b2;
    // Clip z and w both interpolate perspective-correctly; unsnapped, unlike the depth test's value.
    depth[pixel] =
      (b0 * positionsClip[v0 + 2] + b1 * positionsClip[v1 + 2] + b2 * positionsClip[v2 + 2]) /
      (b0 * positionsClip[v0 + 3] + b1 * positionsClip[v1 + 3] + b2 * positionsClip[v2 + 3]);
  }
  return { width, height, triangleIdPlusOne, barycentrics, depth };
}

/**
 * Perspective-correct weights (b1, b2) of the point of the triangle whose vertices start at the given
 * offsets into `clip`, seen at NDC (x, y).
 * With q_k = (x_k, y_k, w_k) and the ray r = (x, y, 1), weight k is proportional to r · (q_i × q_j)
 * for (k, i, j) cyclic; the same formula `interpolate` differentiates.
 */
function perspectiveBarycentrics(clip: Float32Array, offset0: number, offset1: number, offset2: number, x: number, y: number): [number, number] {
  const ax = clip[offset0],
    ay = clip[offset0 + 1],
    aw = clip[offset0 + 3];
  const bx = clip[offset1],
    by = clip[offset1 + 1],
    bw = clip[offset1 + 3];
  const cx = clip[offset2],
    cy = clip[offset2 + 1],
    cw = clip[offset2 + 3];
  const d0 = x * (by * cw - bw * cy) + y * (bw * cx - bx * cw) + (bx * cy - by * cx);
  const d1 = x * (cy * aw - cw * ay) + y * (cw * ax - cx * aw) + (cx * ay - cy * ax);
  const d2 = x * (ay * bw - aw * by) + y * (aw * bx - ax * bw) + (ax * by - ay * bx);
  const sum = d0 + d1 + d2;
  return [d1 / sum, d2 / sum];
}

function validate(positionsClip: Float32Array, triangles: Uint32Array, width: number, height: number): void {
  if (!(positionsClip instanceof Float32Array) || positionsClip.length % 4 !== 0) {
    throw invalidParameterError('positionsClip', 'a Float32Array of length 4·V', positionsClip?.length);
  }
  if (!(triangles instanceof Uint32Array) || triangles.length % 3 !== 0) {
    throw invalidParameterError('triangles', 'a Uint32Array of length 3·F', triangles?.length);
  }
  if (!Number.isInteger(width) || width <= 0) throw invalidParameterError('resolution.width', 'a positive integer', width);
  if (!Number.isInteger(height) || height <= 0) throw invalidParameterError('resolution.height', 'a positive integer', height);
  const vertexCount = positionsClip.length / 4;
  for (let i = 0; i < triangles.length; i++) {
    if (triangles[i] >= vertexCount) {
      throw invalidParameterError(`triangles[${i}]`, `a vertex index below ${vertexCount}`, triangles[i]);
    }
  }
}
