import * as tf from '@tensorflow/tfjs-core';
import { cameraToClip } from '../geometry/camera.ts';
import { computeVertexNormals } from '../geometry/vertex-normals.ts';
import { rasterize } from '../raster/rasterize.ts';
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
 * @param pointsCamera [V, 3] mm, crop camera space.
 * @param focalPx scalar tensor (crop px).
 * @param w [1, wDim] latent; broadcast to every synthesis layer.
 */
export function renderThroughGar(generator: Generator, pointsCamera: tf.Tensor2D, focalPx: tf.Scalar, principalPointPx: [number, number], triangles: Uint32Array, w: tf.Tensor2D): GarRender {
  return tf.tidy(() => {
    const size = generator.config.resolution;
    const clip = cameraToClip(pointsCamera, focalPx, { principalPointPx, width: size, height: size });
    const rasterization = rasterize(clip.dataSync() as Float32Array, triangles, { width: size, height: size }, { cullBackFaces: true });
    const normalsCamera = computeVertexNormals(pointsCamera, triangles);
    const map = renderNormalMap(rasterization, triangles, normalsCamera, clip);
    const normals = tf.expandDims(map.image, 0) as tf.Tensor4D;
    const ws = tf.tile(tf.expandDims(w, 1), [1, generator.numWs, 1]) as tf.Tensor3D;
    return { image: generator.synthesize(ws, normals), normals, mask: map.mask };
  });
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
