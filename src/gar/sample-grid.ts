import * as tf from '@tensorflow/tfjs-core';
import { createRgbaImage, type RgbaImage } from '../common/image.ts';
import type { Generator } from './generator.ts';
import { SeededRandom } from '../common/seeded-random.ts';

/**
 * A grid to look at: one row per geometry, its normal map then `latentsPerRow` renders with
 * different latents (same latents in every column, so a column shows one appearance over
 * several shapes). normals [rows, R, R, 3] in 0…1; noise off; returns an opaque RGBA image.
 */
export function renderSampleGrid(
  generator: Generator,
  normals: tf.Tensor4D,
  options: { latentsPerRow?: number; seed?: number; truncationPsi?: number } = {},
): RgbaImage {
  const columns = options.latentsPerRow ?? 4;
  const [rows, R] = normals.shape;
  const random = new SeededRandom(options.seed ?? 0);
  const zs = random.normals(columns * generator.config.zDim);
  const grid = createRgbaImage((columns + 1) * R, rows * R);
  const put = (pixels: Float32Array, sample: number, row: number, column: number, fromSigned: boolean) => {
    for (let y = 0; y < R; y++) {
      for (let x = 0; x < R; x++) {
        const source = ((sample * R + y) * R + x) * 3;
        const target = ((row * R + y) * grid.width + column * R + x) * 4;
        for (let c = 0; c < 3; c++) grid.data[target + c] = fromSigned ? (pixels[source + c] + 1) * 127.5 : pixels[source + c] * 255;
        grid.data[target + 3] = 255;
      }
    }
  };
  const normalPixels = normals.dataSync() as Float32Array;
  for (let row = 0; row < rows; row++) put(normalPixels, row, row, 0, false);
  for (let column = 0; column < columns; column++) {
    const images = tf.tidy(() => {
      const z = tf.tile(tf.tensor2d(zs.subarray(column * generator.config.zDim, (column + 1) * generator.config.zDim), [1, generator.config.zDim]), [
        rows,
        1,
      ]) as tf.Tensor2D;
      return generator.generate(normals, z, { truncationPsi: options.truncationPsi });
    });
    const pixels = images.dataSync() as Float32Array;
    images.dispose();
    for (let row = 0; row < rows; row++) put(pixels, row, row, column + 1, true);
  }
  return grid;
}
