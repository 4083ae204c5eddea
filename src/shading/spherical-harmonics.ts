import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';

/**
 * Irradiance basis of 2nd-order (9-term) spherical-harmonics lighting, Ramamoorthi & Hanrahan
 * style: basis k is Â_l·Y_lm(n) (the clamped-cosine kernel's band factor Â_0 = π, Â_1 = 2π/3,
 * Â_2 = π/4 times the real SH function), divided by Â_0·Y_00 = √π/2 so that the constant term
 * is exactly 1: coefficients c_0 = (1, 1, 1) and all others 0 give irradiance 1, i.e.
 * shading = albedo. Radiance SH coefficients L_lm convert as c_k = (√π/2)·L_lm.
 *
 * Order (the usual l, m order) and constants, for a unit normal n = (x, y, z):
 *   k: 0    1       2       3       4          5          6               7          8
 *      1    a·y     a·z     a·x     b·x·y      b·y·z      c·(3z² − 1)     b·x·z      d·(x² − y²)
 * with a = 2/√3, b = √15/4, c = √5/8, d = √15/8.
 */
export const SH_BASIS_CONSTANTS = {
  band1: 2 / Math.sqrt(3),
  band2Products: Math.sqrt(15) / 4,
  band2Zonal: Math.sqrt(5) / 8,
  band2Difference: Math.sqrt(15) / 8,
} as const;

/** The 9 basis values (order above) for one unit normal; plain numbers, for tests and exports. */
export function sphericalHarmonicsBasisAt(x: number, y: number, z: number): number[] {
  const { band1: a, band2Products: b, band2Zonal: c, band2Difference: d } = SH_BASIS_CONSTANTS;
  return [1, a * y, a * z, a * x, b * x * y, b * y * z, c * (3 * z * z - 1), b * x * z, d * (x * x - y * y)];
}

/**
 * [M, 9] basis values for [M, 3] unit normals (order and constants in SH_BASIS_CONSTANTS' doc).
 * Differentiable in the normals.
 */
export function sphericalHarmonicsBasis(normals: tf.Tensor2D): tf.Tensor2D {
  const { band1: a, band2Products: b, band2Zonal: c, band2Difference: d } = SH_BASIS_CONSTANTS;
  return tf.tidy(() => {
    const m = normals.shape[0];
    const x = tf.slice(normals, [0, 0], [m, 1]);
    const y = tf.slice(normals, [0, 1], [m, 1]);
    const z = tf.slice(normals, [0, 2], [m, 1]);
    return tf.concat(
      [
        tf.onesLike(x),
        tf.mul(y, a),
        tf.mul(z, a),
        tf.mul(x, a),
        tf.mul(tf.mul(x, y), b),
        tf.mul(tf.mul(y, z), b),
        tf.mul(tf.sub(tf.mul(tf.square(z), 3), 1), c),
        tf.mul(tf.mul(x, z), b),
        tf.mul(tf.sub(tf.square(x), tf.square(y)), d),
      ],
      1,
    ) as tf.Tensor2D;
  });
}

/**
 * Lambertian shading under 9-term SH lighting, per colour channel:
 * out[..., ch] = albedo[..., ch] · Σ_k shCoefficients[k, ch] · basis_k(n).
 * No clamping (irradiance may exceed 1 or go below 0 for extreme coefficients).
 *
 * @param albedo [..., 3] float32, linear RGB.
 * @param normals [..., 3] float32 unit normals, the same leading shape (e.g. [H, W, 3] or [V, 3]),
 *   in the space the lighting is expressed in (camera space for the renderers here).
 * @param shCoefficients [9, 3] float32, row k = basis k, columns RGB.
 * @returns [..., 3] float32, differentiable in all three inputs.
 */
export function shadeSphericalHarmonics(albedo: tf.Tensor, normals: tf.Tensor, shCoefficients: tf.Tensor2D): tf.Tensor {
  if (shCoefficients.rank !== 2 || shCoefficients.shape[0] !== 9 || shCoefficients.shape[1] !== 3) {
    throw invalidParameterError('shCoefficients', 'a [9, 3] tensor', shCoefficients.shape);
  }
  if (normals.shape[normals.rank - 1] !== 3) throw invalidParameterError('normals', 'a [..., 3] tensor', normals.shape);
  if (albedo.shape.join() !== normals.shape.join()) throw invalidParameterError('albedo', `shape [${normals.shape}]`, albedo.shape);
  return tf.tidy(() => {
    const flat = tf.reshape(normals, [-1, 3]) as tf.Tensor2D;
    const irradiance = tf.matMul(sphericalHarmonicsBasis(flat), shCoefficients);
    return tf.mul(albedo, tf.reshape(irradiance, normals.shape));
  });
}
