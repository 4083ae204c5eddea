/**
 * The plain image object the core takes and returns in Node and in browsers alike
 * (the same layout as the DOM's ImageData): 8-bit RGBA, rows top to bottom, origin at
 * the top-left corner, pixel centres at +0.5.
 */
export interface RgbaImage {
  width: number;
  height: number;
  /** [height * width * 4] RGBA, row-major from the top row. */
  data: Uint8ClampedArray;
}

export function createRgbaImage(width: number, height: number): RgbaImage {
  return { width, height, data: new Uint8ClampedArray(width * height * 4) };
}

/** A copy of `image` flipped left to right (pixel x → width − 1 − x). */
export function mirrorImage(image: RgbaImage): RgbaImage {
  const out = createRgbaImage(image.width, image.height);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const from = 4 * (y * image.width + x);
      out.data.set(image.data.subarray(from, from + 4), 4 * (y * image.width + image.width - 1 - x));
    }
  }
  return out;
}

/** 2D similarity or affine transform: x' = a*x + b*y + tx, y' = c*x + d*y + ty. */
export interface Affine2D {
  a: number;
  b: number;
  c: number;
  d: number;
  tx: number;
  ty: number;
}

export function invertAffine2D(m: Affine2D): Affine2D {
  const det = m.a * m.d - m.b * m.c;
  const a = m.d / det,
    b = -m.b / det,
    c = -m.c / det,
    d = m.a / det;
  return { a, b, c, d, tx: -(a * m.tx + b * m.ty), ty: -(c * m.tx + d * m.ty) };
}

export function applyAffine2D(m: Affine2D, x: number, y: number): [number, number] {
  return [m.a * x + m.b * y + m.tx, m.c * x + m.d * y + m.ty];
}

/**
 * Resample `source` into a new `width`×`height` image where output pixel centre (x, y)
 * takes the source colour at `outputToSource(x, y)` (bilinear; outside is transparent black).
 */
export function warpAffine(source: RgbaImage, outputToSource: Affine2D, width: number, height: number): RgbaImage {
  const out = createRgbaImage(width, height);
  const { data: src, width: sw, height: sh } = source;
  const dst = out.data;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const cx = x + 0.5,
        cy = y + 0.5;
      // Source position in continuous coordinates, shifted so integer = pixel centre.
      const sx = outputToSource.a * cx + outputToSource.b * cy + outputToSource.tx - 0.5;
      const sy = outputToSource.c * cx + outputToSource.d * cy + outputToSource.ty - 0.5;
      const x0 = Math.floor(sx),
        y0 = Math.floor(sy);
      const fx = sx - x0,
        fy = sy - y0;
      const o = (y * width + x) * 4;
      let r = 0,
        g = 0,
        b = 0,
        a = 0;
      for (let k = 0; k < 4; k++) {
        const xi = x0 + (k & 1),
          yi = y0 + (k >> 1);
        if (xi < 0 || yi < 0 || xi >= sw || yi >= sh) continue;
        const w = (k & 1 ? fx : 1 - fx) * (k >> 1 ? fy : 1 - fy);
        const i = (yi * sw + xi) * 4;
        r += w * src[i];
        g += w * src[i + 1];
        b += w * src[i + 2];
        a += w * src[i + 3];
      }
      dst[o] = r;
      dst[o + 1] = g;
      dst[o + 2] = b;
      dst[o + 3] = a;
    }
  }
  return out;
}

/** Downscale so that the longer side is at most `maxSide` pixels; returns the scale applied. */
export function downscaleToMaxSide(image: RgbaImage, maxSide: number): { image: RgbaImage; scale: number } {
  const longer = Math.max(image.width, image.height);
  if (longer <= maxSide) return { image, scale: 1 };
  const scale = maxSide / longer;
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  // Bilinear sampling alone aliases when shrinking a lot: halve by 2×2 averages first.
  let current = image;
  while (Math.max(current.width, current.height) / 2 >= maxSide) current = halveImage(current);
  const sx = current.width / width,
    sy = current.height / height;
  return { image: warpAffine(current, { a: sx, b: 0, c: 0, d: sy, tx: 0, ty: 0 }, width, height), scale: width / image.width };
}

/**
 * Halve both sides (floor) by averaging 2×2 blocks; an odd last row or column is dropped,
 * so output continuous coordinate u is exactly input coordinate 2u.
 */
export function halveImage(image: RgbaImage): RgbaImage {
  const width = Math.max(1, image.width >> 1),
    height = Math.max(1, image.height >> 1);
  const out = createRgbaImage(width, height);
  const s = image.data,
    d = out.data,
    sw = image.width;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i00 = (2 * y * sw + 2 * x) * 4,
        i01 = i00 + 4,
        i10 = i00 + sw * 4,
        i11 = i10 + 4;
      const o = (y * width + x) * 4;
      for (let c = 0; c < 4; c++) d[o + c] = (s[i00 + c] + s[i01 + c] + s[i10 + c] + s[i11 + c]) * 0.25;
    }
  }
  return out;
}

/**
 * `image` with `padPx` pixels added on every side, filled by mirroring the image about its
 * edges (repeatedly for pads wider than the image). Tight face crops need room around the
 * face for the detector and for a canonical crop; a mirror continues skin and background
 * where black would add an edge no photo has.
 */
export function padImageMirror(image: RgbaImage, padPx: number): RgbaImage {
  if (!Number.isInteger(padPx) || padPx < 0) throw new RangeError(`padPx must be a non-negative integer, got ${padPx}`);
  const { width, height } = image;
  const out = createRgbaImage(width + 2 * padPx, height + 2 * padPx);
  const mirror = (i: number, n: number) => {
    const period = 2 * n;
    const m = ((i % period) + period) % period;
    return m < n ? m : period - 1 - m;
  };
  for (let y = 0; y < out.height; y++) {
    const sy = mirror(y - padPx, height);
    for (let x = 0; x < out.width; x++) {
      const sx = mirror(x - padPx, width);
      out.data.set(image.data.subarray((sy * width + sx) * 4, (sy * width + sx) * 4 + 4), (y * out.width + x) * 4);
    }
  }
  return out;
}

/**
 * Fraction of a `width`×`height` crop's pixel centres that `cropToImage` maps outside the
 * rectangle [left, left + rectWidth) × [top, top + rectHeight) of the image.
 */
export function fractionOutsideRect(
  cropToImage: Affine2D,
  width: number,
  height: number,
  rect: { left: number; top: number; width: number; height: number },
): number {
  let outside = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [u, v] = applyAffine2D(cropToImage, x + 0.5, y + 0.5);
      if (u < rect.left || v < rect.top || u >= rect.left + rect.width || v >= rect.top + rect.height) outside++;
    }
  }
  return outside / (width * height);
}
