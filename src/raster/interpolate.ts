import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';
import { gatherRows, scatterRows } from './gather-rows.ts';
import type { Rasterization } from './rasterize.ts';

export interface Interpolation {
  /** [H, W, A] float32: attributes interpolated at pixel centres; 0 where empty. */
  image: tf.Tensor3D;
  /** [H, W, 1] float32: 1 where a triangle covers the pixel centre, else 0 (no gradient). */
  mask: tf.Tensor3D;
}

/** The covered pixels of a rasterisation as compact lists (N = covered count). */
interface CoveredPixels {
  triangles: Uint32Array;
  count: number;
  /** [3N] vertex indices of each covered pixel's triangle, interleaved (v0, v1, v2). */
  cornerVertices: Int32Array;
  /** [3N] the same rotated by one: (v1, v2, v0), and by two: (v2, v0, v1). */
  nextVertices: Int32Array;
  previousVertices: Int32Array;
  /** [N] pixel (row-major index) of each covered pixel. */
  pixelIndex: Int32Array;
  /** [3N] barycentrics (b0, b1, b2) from the rasteriser. */
  weights: Float32Array;
  /** [N] NDC x and y of each covered pixel centre. */
  centresX: Float32Array;
  centresY: Float32Array;
  /** [H*W] 1 where covered. */
  mask: Float32Array;
}

// Several attributes are usually interpolated from one rasterisation; build its lists once.
const coveredCache = new WeakMap<Rasterization, CoveredPixels>();

/**
 * Interpolate per-vertex attributes at the pixel centres of a rasterisation (nvdiffrast's
 * `interpolate`): image[y, x] = b0·attr[v0] + b1·attr[v1] + b2·attr[v2] of the visible triangle.
 *
 * Gradients: to `attributes` through the barycentric weights. When `positionsClip` is given,
 * the barycentrics are recomputed from it, perspective-correct, at each covered pixel centre
 * (weight k ∝ r · (q_i × q_j) with q = (x, y, w) and r = (x_ndc, y_ndc, 1)), so gradients also
 * reach the vertex positions of the visible triangle. Which triangle is visible (and which
 * pixels are covered) is not differentiated; silhouette gradients need an antialias-like step.
 * Only covered pixels are computed (a compact list); they are then placed into the image by a
 * scatter whose gradient is a gather, all in ops the wasm backend has (see gather-rows.ts).
 *
 * @param attributes [V, A] float32 per-vertex attributes.
 * @param rasterization output of `rasterize` for these triangles (and these positions).
 * @param triangles [F*3] uint32, the triangles that were rasterised.
 * @param positionsClip optional [V, 4] float32 clip-space positions, the ones rasterised.
 */
export function interpolate(attributes: tf.Tensor2D, rasterization: Rasterization, triangles: Uint32Array, positionsClip?: tf.Tensor2D): Interpolation {
  if (attributes.rank !== 2) throw invalidParameterError('attributes', 'a [V, A] tensor', attributes.shape);
  if (positionsClip && (positionsClip.rank !== 2 || positionsClip.shape[1] !== 4 || positionsClip.shape[0] !== attributes.shape[0])) {
    throw invalidParameterError('positionsClip', `a [${attributes.shape[0]}, 4] tensor`, positionsClip.shape);
  }
  const { width, height } = rasterization;
  const covered = coveredPixels(rasterization, triangles, attributes.shape[0]);
  const attributeCount = attributes.shape[1];
  return tf.tidy(() => {
    const mask = tf.tensor3d(covered.mask, [height, width, 1]);
    let values: tf.Tensor2D;
    if (covered.count === 0) {
      values = tf.zeros([0, attributeCount]);
    } else {
      const weights = positionsClip ? barycentricsFromPositions(positionsClip, covered) : tf.tensor2d(covered.weights, [covered.count, 3]);
      const corners = tf.reshape(gatherRows(attributes, covered.cornerVertices), [covered.count, 3, attributeCount]);
      values = tf.sum(tf.mul(corners, tf.reshape(weights, [covered.count, 3, 1])), 1);
    }
    const image = tf.reshape(scatterRows(values, covered.pixelIndex, width * height), [height, width, attributeCount]);
    return { image: image as tf.Tensor3D, mask };
  });
}

/** [N, 3] perspective-correct barycentrics of the covered pixel centres, differentiable in positionsClip. */
function barycentricsFromPositions(positionsClip: tf.Tensor2D, covered: CoveredPixels): tf.Tensor2D {
  const n = covered.count;
  const vertexCount = positionsClip.shape[0];
  // Gathering single columns is much faster on wasm than slicing gathered [N, 3, 4] blocks, and a
  // column is fastest cut as a row of the transpose (a contiguous slice; wasm's strided slice is slow).
  const rows = tf.transpose(positionsClip);
  const column = (c: number) => tf.reshape(tf.slice(rows, [c, 0], [1, vertexCount]), [vertexCount, 1]) as tf.Tensor2D;
  const x = column(0),
    y = column(1),
    w = column(3);
  // For weight k: q_i = q[(k+1) % 3], q_j = q[(k+2) % 3].
  const atNext = (t: tf.Tensor2D) => tf.reshape(gatherRows(t, covered.nextVertices), [n, 3]);
  const atPrevious = (t: tf.Tensor2D) => tf.reshape(gatherRows(t, covered.previousVertices), [n, 3]);
  const xi = atNext(x),
    yi = atNext(y),
    wi = atNext(w);
  const xj = atPrevious(x),
    yj = atPrevious(y),
    wj = atPrevious(w);
  const rx = tf.tensor2d(covered.centresX, [n, 1]),
    ry = tf.tensor2d(covered.centresY, [n, 1]);
  // r · (q_i × q_j) with r = (rx, ry, 1), q = (x, y, w).
  const crossX = tf.sub(tf.mul(yi, wj), tf.mul(wi, yj));
  const crossY = tf.sub(tf.mul(wi, xj), tf.mul(xi, wj));
  const crossW = tf.sub(tf.mul(xi, yj), tf.mul(yi, xj));
  const unnormalised = tf.add(tf.add(tf.mul(rx, crossX), tf.mul(ry, crossY)), crossW);
  return tf.div(unnormalised, tf.sum(unnormalised, 1, true));
}

function coveredPixels(rasterization: Rasterization, triangles: Uint32Array, vertexCount: number): CoveredPixels {
  const cached = coveredCache.get(rasterization);
  if (cached && cached.triangles === triangles) return cached;
  const { width, height, triangleIdPlusOne, barycentrics } = rasterization;
  const pixelCount = width * height;
  if (triangleIdPlusOne.length !== pixelCount) {
    throw invalidParameterError('rasterization.triangleIdPlusOne', `length ${pixelCount}`, triangleIdPlusOne.length);
  }
  let count = 0;
  for (let p = 0; p < pixelCount; p++) if (triangleIdPlusOne[p] !== 0) count++;
  const cornerVertices = new Int32Array(3 * count);
  const nextVertices = new Int32Array(3 * count);
  const previousVertices = new Int32Array(3 * count);
  const pixelIndex = new Int32Array(count);
  const weights = new Float32Array(3 * count);
  const centresX = new Float32Array(count);
  const centresY = new Float32Array(count);
  const mask = new Float32Array(pixelCount);
  let k = 0;
  for (let p = 0; p < pixelCount; p++) {
    const id = triangleIdPlusOne[p];
    if (id === 0) continue;
    const t = 3 * (id - 1);
    if (t + 2 >= triangles.length) throw invalidParameterError('triangles', `at least ${id} triangles`, triangles.length / 3);
    for (let c = 0; c < 3; c++) {
      const v = triangles[t + c];
      if (v >= vertexCount) throw invalidParameterError(`triangles[${t + c}]`, `a vertex index below ${vertexCount}`, v);
      cornerVertices[3 * k + c] = v;
      nextVertices[3 * k + ((c + 2) % 3)] = v;
      previousVertices[3 * k + ((c + 1) % 3)] = v;
    }
    const b1 = barycentrics[2 * p],
      b2 = barycentrics[2 * p + 1];
    weights[3 * k] = 1 - b1 - b2;
    weights[3 * k + 1] = b1;
    weights[3 * k + 2] = b2;
    const col = p % width,
      row = (p - col) / width;
    centresX[k] = ((col + 0.5) / width) * 2 - 1;
    centresY[k] = 1 - ((row + 0.5) / height) * 2;
    pixelIndex[k] = p;
    mask[p] = 1;
    k++;
  }
  const result = { triangles, count, cornerVertices, nextVertices, previousVertices, pixelIndex, weights, centresX, centresY, mask };
  coveredCache.set(rasterization, result);
  return result;
}
