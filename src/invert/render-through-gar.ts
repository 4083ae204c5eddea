import * as tf from '@tensorflow/tfjs-core';
import { cameraToClip } from '../geometry/camera.ts';
import { computeVertexNormalsArray } from '../geometry/vertex-normals.ts';
import { gatherRows } from '../raster/gather-rows.ts';
import { rasterize } from '../raster/rasterize.ts';
import { visibleSubmesh, type VisibleSubmesh } from '../raster/visible-submesh.ts';
import { invalidParameterError } from '../common/errors.ts';
import { renderNormalMap } from '../shading/render-normal-map.ts';
import type { Generator } from '../gar/generator.ts';

export interface GarRender {
  /** [1, S, S, 3] GAR image, ≈ −1…1. */
  image: tf.Tensor4D;
  /** [1, S, S, 3] the normal map fed to the GAR (n·0.5+0.5, background 0). */
  normals: tf.Tensor4D;
  /** [S, S, 1] 1 where the mesh covers the pixel (no gradient). */
  mask: tf.Tensor3D;
}

/**
 * Rasterise the camera-space mesh into a normal map (as GeometrySampler does: all triangles,
 * back faces culled) and render it with the GAR for one latent. Differentiable in the vertices
 * (through `interpolate`'s perspective-correct barycentrics and the vertex normals), the focal
 * length and w; visibility itself is not (the usual rasteriser limit).
 *
 * Only the visible part of the mesh is shaded (see {@link garVisibleSubmesh}): the same values
 * as shading the whole mesh, for a fraction of the work forward and backward.
 *
 * @param pointsCamera [V, 3] mm, crop camera space.
 * @param focalPx scalar tensor (crop px).
 * @param w [1, wDim] latent; broadcast to every synthesis layer.
 */
export function renderThroughGar(
  generator: Generator,
  pointsCamera: tf.Tensor2D,
  focalPx: tf.Scalar,
  principalPointPx: [number, number],
  triangles: Uint32Array,
  w: tf.Tensor2D,
): GarRender {
  return tf.tidy(() => {
    const size = generator.config.resolution;
    const clip = cameraToClip(pointsCamera, focalPx, { principalPointPx, width: size, height: size });
    const submesh = garVisibleSubmesh(clip.dataSync() as Float32Array, triangles, size);
    const { image, normals, mask } = renderSubmeshThroughGar(generator, submesh, gatherRows(pointsCamera, submesh.vertexIds), focalPx, principalPointPx, w);
    return { image, normals, mask };
  });
}

/**
 * Which part of the mesh the GAR's normal map shows: rasterise all triangles at the GAR's
 * resolution, back faces culled (as GeometrySampler does), and cut out the triangles that win a
 * pixel plus their neighbours (so vertex normals on the cut equal the whole mesh's where they
 * are seen). At 64² that is about a third of the full face area's triangles. Plain JS, no tensors.
 *
 * @param positionsClip [V*4] clip-space positions of the whole mesh (plain numbers: no gradient).
 * @param triangles [F*3] uint32, the whole mesh.
 * @param sizePx the GAR's resolution.
 */
export function garVisibleSubmesh(positionsClip: Float32Array, triangles: Uint32Array, sizePx: number): VisibleSubmesh {
  const rasterization = rasterize(positionsClip, triangles, { width: sizePx, height: sizePx }, { cullBackFaces: true });
  return visibleSubmesh(rasterization, triangles, positionsClip.length / 4);
}

/**
 * The normal map of a visible submesh (from {@link garVisibleSubmesh}) rendered with the GAR.
 * Differentiable in the submesh's vertices, the focal length and w.
 *
 * @param pointsCamera [S, 3] mm, crop camera space, of `submesh.vertexIds` in that order.
 * @param focalPx scalar tensor (crop px).
 * @param w [1, wDim] latent; broadcast to every synthesis layer.
 */
export function renderSubmeshThroughGar(
  generator: Generator,
  submesh: VisibleSubmesh,
  pointsCamera: tf.Tensor2D,
  focalPx: tf.Scalar,
  principalPointPx: [number, number],
  w: tf.Tensor2D,
): GarRender {
  return tf.tidy(() => {
    const size = generator.config.resolution;
    if (pointsCamera.shape[0] !== submesh.vertexIds.length)
      throw invalidParameterError('pointsCamera', `[${submesh.vertexIds.length}, 3] (the submesh's vertices)`, pointsCamera.shape);
    let map: { image: tf.Tensor3D; mask: tf.Tensor3D };
    if (submesh.vertexIds.length === 0) {
      map = { image: tf.zeros([size, size, 3]), mask: tf.zeros([size, size, 1]) };
    } else {
      const clip = cameraToClip(pointsCamera, focalPx, { principalPointPx, width: size, height: size });
      const normalsCamera = vertexNormalsWithJsGradient(pointsCamera, submesh.triangles);
      map = renderNormalMap(submesh.rasterization, submesh.triangles, normalsCamera, clip);
    }
    const normals = tf.expandDims(map.image, 0) as tf.Tensor4D;
    const ws = tf.tile(tf.expandDims(w, 1), [1, generator.numWs, 1]) as tf.Tensor3D;
    return { image: generator.synthesize(ws, normals), normals, mask: map.mask };
  });
}

/**
 * Area-weighted unit vertex normals [V, 3] as `computeVertexNormals` defines them (isolated
 * vertices 0), computed in plain JS forward (float64 sums) and backward, as one op: the
 * dozens of small gather / scatter / elementwise tensor ops of the tensor version cost ~10× more
 * on wasm at the few thousand vertices of a GAR-sized submesh. Reads the positions back
 * (a sync, like the rasteriser's).
 *
 * @param positions [V, 3] float32.
 * @param triangles [F*3] uint32 vertex indices.
 */
export function vertexNormalsWithJsGradient(positions: tf.Tensor2D, triangles: Uint32Array): tf.Tensor2D {
  const vertexCount = positions.shape[0];
  const op = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const p = (inputs[0] as tf.Tensor).dataSync() as Float32Array;
    const normals = computeVertexNormalsArray(p, triangles);
    const gradFunc = (dy: tf.Tensor) => {
      const g = dy.dataSync();
      // Unnormalised sums s_v again (their lengths), then ds = (g − n (n·g)) / |s|.
      const sums = new Float64Array(3 * vertexCount);
      forEachFaceNormal(p, triangles, (a, b, c, nx, ny, nz) => {
        for (const v of [a, b, c]) {
          sums[v] += nx;
          sums[v + 1] += ny;
          sums[v + 2] += nz;
        }
      });
      const gradSums = new Float64Array(3 * vertexCount);
      for (let v = 0; v < 3 * vertexCount; v += 3) {
        const length = Math.hypot(sums[v], sums[v + 1], sums[v + 2]);
        if (length === 0) {
          gradSums[v] = g[v];
          gradSums[v + 1] = g[v + 1];
          gradSums[v + 2] = g[v + 2];
          continue;
        }
        const nx = sums[v] / length,
          ny = sums[v + 1] / length,
          nz = sums[v + 2] / length;
        const along = nx * g[v] + ny * g[v + 1] + nz * g[v + 2];
        gradSums[v] = (g[v] - nx * along) / length;
        gradSums[v + 1] = (g[v + 1] - ny * along) / length;
        gradSums[v + 2] = (g[v + 2] - nz * along) / length;
      }
      // Face normal n = e1 × e2 (e1 = p_b − p_a, e2 = p_c − p_a): with G = Σ ds over its corners,
      // dL/de1 = e2 × G and dL/de2 = G × e1.
      const gradPositions = new Float32Array(3 * vertexCount);
      for (let t = 0; t < triangles.length; t += 3) {
        const a = 3 * triangles[t],
          b = 3 * triangles[t + 1],
          c = 3 * triangles[t + 2];
        const gx = gradSums[a] + gradSums[b] + gradSums[c];
        const gy = gradSums[a + 1] + gradSums[b + 1] + gradSums[c + 1];
        const gz = gradSums[a + 2] + gradSums[b + 2] + gradSums[c + 2];
        const e1x = p[b] - p[a],
          e1y = p[b + 1] - p[a + 1],
          e1z = p[b + 2] - p[a + 2];
        const e2x = p[c] - p[a],
          e2y = p[c + 1] - p[a + 1],
          e2z = p[c + 2] - p[a + 2];
        const d1x = e2y * gz - e2z * gy,
          d1y = e2z * gx - e2x * gz,
          d1z = e2x * gy - e2y * gx;
        const d2x = gy * e1z - gz * e1y,
          d2y = gz * e1x - gx * e1z,
          d2z = gx * e1y - gy * e1x;
        gradPositions[b] += d1x;
        gradPositions[b + 1] += d1y;
        gradPositions[b + 2] += d1z;
        gradPositions[c] += d2x;
        gradPositions[c + 1] += d2y;
        gradPositions[c + 2] += d2z;
        gradPositions[a] -= d1x + d2x;
        gradPositions[a + 1] -= d1y + d2y;
        gradPositions[a + 2] -= d1z + d2z;
      }
      return tf.tensor2d(gradPositions, [vertexCount, 3]);
    };
    return { value: tf.tensor2d(normals, [vertexCount, 3]), gradFunc };
  });
  return op(positions) as tf.Tensor2D;
}

/** Calls `visit` with each face's corner offsets (3·index) and its normal (p_b − p_a) × (p_c − p_a). */
function forEachFaceNormal(
  p: Float32Array,
  triangles: Uint32Array,
  visit: (a: number, b: number, c: number, nx: number, ny: number, nz: number) => void,
): void {
  for (let t = 0; t < triangles.length; t += 3) {
    const a = 3 * triangles[t],
      b = 3 * triangles[t + 1],
      c = 3 * triangles[t + 2];
    const e1x = p[b] - p[a],
      e1y = p[b + 1] - p[a + 1],
      e1z = p[b + 2] - p[a + 2];
    const e2x = p[c] - p[a],
      e2y = p[c + 1] - p[a + 1],
      e2z = p[c + 2] - p[a + 2];
    visit(a, b, c, e1y * e2z - e1z * e2y, e1z * e2x - e1x * e2z, e1x * e2y - e1y * e2x);
  }
}

/** RGBA 0…255 image → [1, S, S, 3] in −1…1 (the GAR's range). */
export function imageToGarTensor(image: { width: number; height: number; data: Uint8ClampedArray }): tf.Tensor4D {
  const rgb = new Float32Array(image.width * image.height * 3);
  for (let p = 0; p < image.width * image.height; p++) for (let c = 0; c < 3; c++) rgb[3 * p + c] = image.data[4 * p + c] / 127.5 - 1;
  return tf.tensor4d(rgb, [1, image.height, image.width, 3]);
}

/** [1, S, S, 3] in −1…1 → RGBA image. */
export function garTensorToImage(tensor: tf.Tensor4D): { width: number; height: number; data: Uint8ClampedArray } {
  const [, height, width] = tensor.shape;
  const values = tensor.dataSync();
  const data = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) data[4 * p + c] = Math.round((values[3 * p + c] + 1) * 127.5);
    data[4 * p + 3] = 255;
  }
  return { width, height, data };
}
