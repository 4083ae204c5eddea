import { createRgbaImage, type RgbaImage } from '../../src/common/image.ts';
import { SeededRandom } from '../../src/common/seeded-random.ts';

/** `count` 32×32 one-colour "real" crops (seeded shades): enough for a GAR trainer to run a step. */
export function flatCrops(count: number, seed: number): RgbaImage[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: count }, () => {
    const image = createRgbaImage(32, 32);
    const shade = 255 * random.next();
    for (let i = 0; i < image.data.length; i += 4) {
      image.data[i] = shade;
      image.data[i + 1] = 128;
      image.data[i + 2] = 255 - shade;
      image.data[i + 3] = 255;
    }
    return image;
  });
}
