import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';

/**
 * Differentiable vertex normals: each face's normal (p1 − p0) × (p2 − p0), whose length is twice
 * its area (so larger faces weigh more), summed over the faces around each vertex, then scaled
 * to unit length. Outward for counter-clockwise triangles in a right-handed frame. A vertex in
 * no face (or whose faces cancel) gets (0, 0, 0), with finite gradients.
 *
 * @param positions [V, 3] float32, any right-handed space (model or camera).
 * @param triangles [F*3] uint32 vertex indices.
 * @returns [V, 3] float32 unit normals in the same space.
 */
export function computeVertexNormals(positions: tf.Tensor2D, triangles: Uint32Array): tf.Tensor2D {
  const vertexCount = positions.shape[0];
  if (positions.rank !== 2 || positions.shape[1] !== 3) throw invalidParameterError('positions', 'a [V, 3] tensor', positions.shape);
  validateTriangles(triangles, vertexCount);
  const faceCount = triangles.length / 3;
  if (faceCount === 0) return tf.zeros([vertexCount, 3]);
  const corner = [0, 1, 2].map((k) => Int32Array.from({ length: faceCount }, (_, f) => triangles[3 * f + k]));
  return tf.tidy(() => {
    // Columns gathered one by one: much faster on wasm than slicing gathered [F, 3] blocks.
    const column = (c: number) => tf.slice(positions, [0, c], [vertexCount, 1]) as tf.Tensor2D;
    const [x, y, z] = [column(0), column(1), column(2)];
    const at = (t: tf.Tensor2D, k: number) => gatherRows(t, corner[k]);
    const e1x = tf.sub(at(x, 1), at(x, 0)),
      e1y = tf.sub(at(y, 1), at(y, 0)),
      e1z = tf.sub(at(z, 1), at(z, 0));
    const e2x = tf.sub(at(x, 2), at(x, 0)),
      e2y = tf.sub(at(y, 2), at(y, 0)),
      e2z = tf.sub(at(z, 2), at(z, 0));
    const faceNormals = tf.concat(
      [tf.sub(tf.mul(e1y, e2z), tf.mul(e1z, e2y)), tf.sub(tf.mul(e1z, e2x), tf.mul(e1x, e2z)), tf.sub(tf.mul(e1x, e2y), tf.mul(e1y, e2x))],
      1,
    ) as tf.Tensor2D;
    const allCorners = new Int32Array(3 * faceCount);
    for (let k = 0; k < 3; k++) allCorners.set(corner[k], k * faceCount);
    const sums = scatterAddRows(tf.concat([faceNormals, faceNormals, faceNormals], 0) as tf.Tensor2D, allCorners, vertexCount);
    const squaredLength = tf.sum(tf.square(sums), 1, true);
    // Isolated vertices divide by 1 instead of 0, keeping value and gradient finite
    // (step(s) is 1 for s > 0, else 0, and has a zero gradient; Greater has none at all).
    const safe = tf.add(squaredLength, tf.sub(1, tf.step(squaredLength)));
    return tf.mul(sums, tf.rsqrt(safe)) as tf.Tensor2D;
  });
}

/**
 * The same as {@link computeVertexNormals} on plain arrays (float64 sums), for export and overlays.
 *
 * @param positions [V*3] float32.
 * @param triangles [F*3] uint32.
 * @returns [V*3] float32 unit normals; (0, 0, 0) for isolated vertices.
 */
export function computeVertexNormalsArray(positions: Float32Array, triangles: Uint32Array): Float32Array {
  if (positions.length % 3 !== 0) throw invalidParameterError('positions', 'a Float32Array of length 3·V', positions.length);
  const vertexCount = positions.length / 3;
  validateTriangles(triangles, vertexCount);
  const sums = new Float64Array(positions.length);
  for (let t = 0; t < triangles.length; t += 3) {
    const a = 3 * triangles[t],
      b = 3 * triangles[t + 1],
      c = 3 * triangles[t + 2];
    const e1x = positions[b] - positions[a],
      e1y = positions[b + 1] - positions[a + 1],
      e1z = positions[b + 2] - positions[a + 2];
    const e2x = positions[c] - positions[a],
      e2y = positions[c + 1] - positions[a + 1],
      e2z = positions[c + 2] - positions[a + 2];
    const nx = e1y * e2z - e1z * e2y,
      ny = e1z * e2x - e1x * e2z,
      nz = e1x * e2y - e1y * e2x;
    for (const v of [a, b, c]) {
      sums[v] += nx;
      sums[v + 1] += ny;
      sums[v + 2] += nz;
    }
  }
  const normals = new Float32Array(positions.length);
  for (let v = 0; v < positions.length; v += 3) {
    const length = Math.hypot(sums[v], sums[v + 1], sums[v + 2]);
    if (length === 0) continue;
    normals[v] = sums[v] / length;
    normals[v + 1] = sums[v + 1] / length;
    normals[v + 2] = sums[v + 2] / length;
  }
  return normals;
}

function validateTriangles(triangles: Uint32Array, vertexCount: number): void {
  if (!(triangles instanceof Uint32Array) || triangles.length % 3 !== 0) {
    throw invalidParameterError('triangles', 'a Uint32Array of length 3·F', triangles?.length);
  }
  for (let i = 0; i < triangles.length; i++) {
    if (triangles[i] >= vertexCount) throw invalidParameterError(`triangles[${i}]`, `a vertex index below ${vertexCount}`, triangles[i]);
  }
}

// Row gather / scatter-add with gradients that run on wasm (it lacks UnsortedSegmentSum, which
// tf.gather's stock gradient needs). raster/gather-rows.ts has the same pair; geometry may not
// import raster, so these few lines are repeated until they move to engine/.

/** [M, C] rows `indices` of x [R, C]; gradient: scatter-add. */
function gatherRows(x: tf.Tensor2D, indices: Int32Array): tf.Tensor2D {
  const [rowCount, columnCount] = x.shape;
  const indexTensor = () => tf.tensor2d(indices, [indices.length, 1], 'int32');
  return tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.tidy(() => tf.gatherND(inputs[0] as tf.Tensor, indexTensor())),
    gradFunc: (dy: tf.Tensor) => tf.tidy(() => tf.scatterND(indexTensor(), dy, [rowCount, columnCount])),
  }))(x) as tf.Tensor2D;
}

/** [rowCount, C]: row r = sum of x's rows m with indices[m] = r; gradient: gather. */
function scatterAddRows(x: tf.Tensor2D, indices: Int32Array, rowCount: number): tf.Tensor2D {
  const columnCount = x.shape[1];
  const indexTensor = () => tf.tensor2d(indices, [indices.length, 1], 'int32');
  return tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.tidy(() => tf.scatterND(indexTensor(), inputs[0] as tf.Tensor, [rowCount, columnCount])),
    gradFunc: (dy: tf.Tensor) => tf.tidy(() => tf.gatherND(dy, indexTensor())),
  }))(x) as tf.Tensor2D;
}
