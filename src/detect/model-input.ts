import * as tf from '@tensorflow/tfjs-core';
import type { RgbaImage } from '../common/image.ts';

/**
 * RGB of `image` as a [1, H, W, 3] float32 NHWC tensor with value = byte / 255 · (high − low) + low,
 * e.g. [-1, 1] for BlazeFace, [0, 1] for FaceMesh. Alpha is ignored. The caller disposes it.
 */
export function rgbInputTensor(image: RgbaImage, low: number, high: number): tf.Tensor4D {
  const { width, height, data } = image;
  const values = new Float32Array(width * height * 3);
  const scale = (high - low) / 255;
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    values[3 * i] = data[j] * scale + low;
    values[3 * i + 1] = data[j + 1] * scale + low;
    values[3 * i + 2] = data[j + 2] * scale + low;
  }
  return tf.tensor4d(values, [1, height, width, 3], 'float32');
}
