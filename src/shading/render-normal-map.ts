import * as tf from '@tensorflow/tfjs-core';
import { interpolate } from '../raster/interpolate.ts';
import type { Rasterization } from '../raster/rasterize.ts';
import { renormalisePixelNormals } from './unit-normals.ts';

export interface NormalMap {
  /** [H, W, 3] float32: unit camera-space normal n as n·0.5 + 0.5 (RGB in 0..1); 0 where empty. */
  image: tf.Tensor3D;
  /** [H, W, 1] float32: 1 where covered. */
  mask: tf.Tensor3D;
}

/**
 * Render camera-space normals as an RGB image (the GAR's input): per-pixel interpolation of
 * vertex normals, renormalised to unit length, mapped n·0.5 + 0.5; background 0.
 * Camera space: +x right, +y up, camera looks down −z, so a surface facing the camera is
 * (0, 0, 1) → RGB (0.5, 0.5, 1).
 *
 * @param rasterization `rasterize` output for `triangles`.
 * @param triangles [F*3] uint32.
 * @param vertexNormalsCamera [V, 3] float32 camera-space vertex normals (need not be unit length).
 * @param positionsClip optional [V, 4] clip-space positions, to let gradients reach them.
 */
export function renderNormalMap(
  rasterization: Rasterization,
  triangles: Uint32Array,
  vertexNormalsCamera: tf.Tensor2D,
  positionsClip?: tf.Tensor2D,
): NormalMap {
  return tf.tidy(() => {
    const { image: normals, mask } = interpolate(vertexNormalsCamera, rasterization, triangles, positionsClip);
    const unit = renormalisePixelNormals(normals, mask);
    const image = tf.mul(tf.add(tf.mul(unit, 0.5), 0.5), mask) as tf.Tensor3D;
    return { image, mask };
  });
}
