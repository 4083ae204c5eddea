import * as tf from '@tensorflow/tfjs-core';

export interface ModulatedConv2dOptions {
  /** Normalise each output channel to unit expected variance (synthesis layers: true; toRGB: false). */
  demodulate: boolean;
  /** 2: upsample the input ×2 (bilinear) before the convolution. Default 1. */
  up?: 1 | 2;
}

/**
 * StyleGAN2 modulated convolution, written once for synthesis layers and toRGB.
 * Per sample n: w'[k,k,i,o] = w[k,k,i,o]·s[n,i], and with demodulation
 * w''= w' / sqrt(Σ_{k,k,i} w'² + 1e-8). Computed without grouped convolutions (which
 * tfjs lacks) as conv(x·s, w)·d, mathematically identical: scaling input channel i by
 * s[n,i] equals scaling the weights of that channel, and d[n,o] is a per-output factor.
 *
 * @param x [N, H, W, I] float32 NHWC activations.
 * @param weight [k, k, I, O] float32, already multiplied by its equalised-learning-rate gain.
 * @param styles [N, I] float32 per-sample input-channel scales.
 * @returns [N, H·up, W·up, O] float32.
 */
export function modulatedConv2d(x: tf.Tensor4D, weight: tf.Tensor4D, styles: tf.Tensor2D, options: ModulatedConv2dOptions): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, inChannels] = x.shape;
    const outChannels = weight.shape[3];
    let y = tf.mul(x, tf.reshape(styles, [n, 1, 1, inChannels])) as tf.Tensor4D;
    if ((options.up ?? 1) === 2) y = tf.image.resizeBilinear(y, [h * 2, w * 2], false, true);
    y = tf.conv2d(y, weight, 1, 'same');
    if (options.demodulate) {
      const weightEnergy = tf.sum(tf.square(weight), [0, 1]) as tf.Tensor2D; // [I, O]
      const energy = tf.matMul(tf.square(styles), weightEnergy); // [N, O]
      y = tf.mul(y, tf.reshape(tf.rsqrt(tf.add(energy, 1e-8)), [n, 1, 1, outChannels]));
    }
    return y;
  });
}
