import * as tf from '@tensorflow/tfjs-core';

/**
 * Rescale per-pixel normals [..., 3] to unit length where covered; where `mask` is 0 (or the
 * normal is zero) the output is 0, with finite gradients everywhere.
 *
 * @param normals [..., 3] float32 interpolated normals.
 * @param mask [..., 1] float32, 1 where covered.
 */
export function renormalisePixelNormals(normals: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const squaredLength = tf.sum(tf.square(normals), -1, true);
    // Empty pixels (length 0) divide by 1 instead, so neither value nor gradient blows up
    // (step(s) is 1 for s > 0, else 0, with a zero gradient).
    const safe = tf.add(squaredLength, tf.sub(1, tf.step(squaredLength)));
    return tf.mul(tf.mul(normals, tf.rsqrt(safe)), mask);
  });
}
