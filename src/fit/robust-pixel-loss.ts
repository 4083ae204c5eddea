// The GAR refinement's pixel loss, made robust to photos the GAR cannot draw.
import * as tf from '@tensorflow/tfjs-core';

/**
 * The mean colour distance d made robust: d up to the reference r, then 2r − r²/d, whose slope
 * falls as (r / d)². That is inverse-variance weighting with the noise level estimated from the
 * residual: a photo unlike the GAR's training renders (a real photo, for a GAR trained on studio
 * renders) leaves a large residual, and its pixel loss then pulls the mesh less against the
 * landmarks. r = 0: d as is.
 */
export function robustPixelLoss(distance: tf.Scalar, reference: number): tf.Scalar {
  if (reference === 0) return distance;
  return tf.tidy(() => tf.where(tf.greater(distance, reference), tf.sub(2 * reference, tf.div(reference * reference, distance)), distance) as tf.Scalar);
}
