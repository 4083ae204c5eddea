import { halveImage, warpAffine, type Affine2D, type RgbaImage } from '../common/image.ts';

/**
 * An image and its 2×2-averaged halvings, built on demand. Crops that shrink the image
 * a lot sample a smaller level, so bilinear sampling does not alias.
 */
export class ImagePyramid {
  private readonly levels: RgbaImage[];

  constructor(image: RgbaImage) {
    this.levels = [image];
  }

  get base(): RgbaImage {
    return this.levels[0];
  }

  /** Level k is the base halved k times; continuous coordinate u there is 2^k·u in the base. */
  level(k: number): RgbaImage {
    while (this.levels.length <= k) {
      const last = this.levels[this.levels.length - 1];
      if (last.width < 2 || last.height < 2) break;
      this.levels.push(halveImage(last));
    }
    return this.levels[Math.min(k, this.levels.length - 1)];
  }

  /**
   * Resample a `width`×`height` crop whose continuous pixel coordinates map to the base
   * image's by `cropToBase` (pixel centres at +0.5, bilinear, outside = transparent black).
   * Uses the level where one crop pixel spans 1–2 level pixels.
   */
  sampleCrop(cropToBase: Affine2D, width: number, height: number): RgbaImage {
    const basePixelsPerCropPixel = Math.sqrt(Math.abs(cropToBase.a * cropToBase.d - cropToBase.b * cropToBase.c));
    const wanted = Math.max(0, Math.floor(Math.log2(Math.max(basePixelsPerCropPixel, 1))));
    const source = this.level(wanted);
    const factor = 2 ** this.levels.indexOf(source);
    const m = cropToBase;
    const toLevel: Affine2D = { a: m.a / factor, b: m.b / factor, c: m.c / factor, d: m.d / factor, tx: m.tx / factor, ty: m.ty / factor };
    return warpAffine(source, toLevel, width, height);
  }
}
