import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';
import { interpolate } from '../raster/interpolate.ts';
import type { Rasterization } from '../raster/rasterize.ts';
import { shadeSphericalHarmonics } from './spherical-harmonics.ts';
import { renormalisePixelNormals } from './unit-normals.ts';

export interface RenderShadedInput {
  /** `rasterize` output for `triangles`. */
  rasterization: Rasterization;
  /** [F*3] uint32. */
  triangles: Uint32Array;
  /** [V, 3] float32 per-vertex albedo, linear RGB 0..1. */
  albedo: tf.Tensor2D;
  /** [V, 3] float32 camera-space vertex normals (need not be unit length). */
  vertexNormalsCamera: tf.Tensor2D;
  /** [9, 3] float32 SH lighting coefficients in camera space (basis: spherical-harmonics.ts). */
  shCoefficients: tf.Tensor2D;
  /** Optional [V, 4] float32 clip-space positions, to let gradients reach them. */
  positionsClip?: tf.Tensor2D;
}

export interface ShadedImage {
  /** [H, W, 3] float32 linear RGB (albedo × SH irradiance, nominally 0..1, not clamped); 0 where empty. */
  image: tf.Tensor3D;
  /** [H, W, 1] float32: 1 where covered. */
  mask: tf.Tensor3D;
}

/**
 * The graphics renderer: Lambertian albedo under SH lighting, per pixel. Albedo and normals
 * are interpolated in one pass, the normals renormalised per pixel, then shaded.
 * Differentiable w.r.t. albedo, normals, SH coefficients and (if given) positions.
 */
export function renderShaded(input: RenderShadedInput): ShadedImage {
  const { rasterization, triangles, albedo, vertexNormalsCamera, shCoefficients, positionsClip } = input;
  if (albedo.rank !== 2 || albedo.shape[1] !== 3) throw invalidParameterError('albedo', 'a [V, 3] tensor', albedo.shape);
  if (vertexNormalsCamera.rank !== 2 || vertexNormalsCamera.shape[1] !== 3 || vertexNormalsCamera.shape[0] !== albedo.shape[0]) {
    throw invalidParameterError('vertexNormalsCamera', `a [${albedo.shape[0]}, 3] tensor`, vertexNormalsCamera.shape);
  }
  return tf.tidy(() => {
    const { height, width } = rasterization;
    const attributes = tf.concat([albedo, vertexNormalsCamera], 1) as tf.Tensor2D;
    const { image: interpolated, mask } = interpolate(attributes, rasterization, triangles, positionsClip);
    const pixelAlbedo = tf.slice(interpolated, [0, 0, 0], [height, width, 3]);
    const pixelNormals = renormalisePixelNormals(tf.slice(interpolated, [0, 0, 3], [height, width, 3]), mask);
    const image = tf.mul(shadeSphericalHarmonics(pixelAlbedo, pixelNormals, shCoefficients), mask) as tf.Tensor3D;
    return { image, mask };
  });
}
