import * as tf from '@tensorflow/tfjs-core';
import { createRgbaImage, type RgbaImage } from '../common/image.ts';
import type { Generator } from '../gar/generator.ts';
import type { GeometrySampler, SampledGeometry } from '../gar/geometry-sampler.ts';
import { SeededRandom } from '../common/seeded-random.ts';

export interface QualityGridOptions {
  /** Geometry rows (normal map, then one render per latent). Default 4. */
  rows?: number;
  /** Latents per row, the same ones in every row (a column = one latent). Default 4. */
  latents?: number;
  seed?: number;
  /** Gap between the blocks and around the grid, pixels. Default 2. */
  gapPx?: number;
}

/**
 * The picture beside the numbers: one block per generator, side by side, each `rows` geometry rows
 * (normal map | renders with `latents` latents; same geometries and latents in every block) and
 * one geometry-swap row under them: for the first latent, normal A | G(w, A) | normal B | G(w, B),
 * where B is A turned the other way (yaw negated) with another identity, so a reader sees the
 * shape follow the normal map while the look stays. Opaque RGBA, R-pixel cells on white.
 */
export function renderQualityGrid(generators: Generator[], sampler: GeometrySampler, options: QualityGridOptions = {}): RgbaImage {
  const rows = options.rows ?? 4,
    latents = options.latents ?? 4,
    gap = options.gapPx ?? 2;
  const R = sampler.config.resolution;
  const random = new SeededRandom(options.seed ?? 0);
  const geometries = Array.from({ length: rows }, () => sampler.sample(random));
  const a = geometries[0];
  const other = sampler.sample(random);
  // Turned the other way (at least 0.5 rad of yaw apart), with another identity.
  const yaw = Math.abs(a.eulerRad[1]) > 0.25 ? -a.eulerRad[1] : a.eulerRad[1] >= 0 ? -0.5 : 0.5;
  const turned: [number, number, number] = [a.eulerRad[0], yaw, a.eulerRad[2]];
  const b: SampledGeometry = { identity: other.identity, expression: a.expression, eulerRad: turned, ...sampler.frame(other.identity, a.expression, turned) };
  const zDim = generators[0].config.zDim;
  const z = random.normals(latents * zDim);
  const columns = Math.max(latents + 1, 4);
  const blockWidth = columns * R;
  const grid = createRgbaImage(generators.length * (blockWidth + gap) + gap, (rows + 1) * R + 3 * gap);
  grid.data.fill(255);
  const normalMaps = sampler.renderNormalMaps([...geometries, b]);
  try {
    const normalPixels = normalMaps.dataSync();
    generators.forEach((generator, g) => {
      const x0 = gap + g * (blockWidth + gap);
      for (let row = 0; row < rows; row++) put(grid, normalPixels, row, R, x0, gap + row * R, false);
      for (let column = 0; column < latents; column++) {
        const images = tf.tidy(() =>
          generator.generate(
            tf.slice(normalMaps, [0, 0, 0, 0], [rows, R, R, 3]),
            tf.tile(tf.tensor2d(z.subarray(column * zDim, (column + 1) * zDim), [1, zDim]), [rows, 1]) as tf.Tensor2D,
          ),
        );
        const pixels = images.dataSync();
        images.dispose();
        for (let row = 0; row < rows; row++) put(grid, pixels, row, R, x0 + (column + 1) * R, gap + row * R, true);
      }
      // Swap row: same latent (the first column's), geometry A then B.
      const swapped = tf.tidy(() =>
        generator.generate(tf.gather(normalMaps, [0, rows]), tf.tile(tf.tensor2d(z.subarray(0, zDim), [1, zDim]), [2, 1]) as tf.Tensor2D),
      );
      const pixels = swapped.dataSync();
      swapped.dispose();
      const y = 2 * gap + rows * R + gap;
      put(grid, normalPixels, 0, R, x0, y, false);
      put(grid, pixels, 0, R, x0 + R, y, true);
      put(grid, normalPixels, rows, R, x0 + 2 * R, y, false);
      put(grid, pixels, 1, R, x0 + 3 * R, y, true);
    });
  } finally {
    normalMaps.dispose();
  }
  return grid;
}

/** Copy sample `index` of [N, R, R, 3] pixels (0…1, or −1…1 when `signed`) to (x, y) of the grid. */
function put(grid: RgbaImage, pixels: ArrayLike<number>, index: number, R: number, x: number, y: number, signed: boolean): void {
  for (let v = 0; v < R; v++) {
    for (let u = 0; u < R; u++) {
      const source = ((index * R + v) * R + u) * 3;
      const target = ((y + v) * grid.width + x + u) * 4;
      for (let c = 0; c < 3; c++) grid.data[target + c] = signed ? (pixels[source + c] + 1) * 127.5 : pixels[source + c] * 255;
      grid.data[target + 3] = 255;
    }
  }
}
