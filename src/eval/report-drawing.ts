import { createRgbaImage, type RgbaImage } from '../common/image.ts';
import { cameraToClipArray, transformPointsArray } from '../geometry/camera.ts';
import { trianglesWithinVertexRange, type MorphableModel } from '../morphable/morphable-model.ts';
import { rasterize } from '../raster/rasterize.ts';
import type { BenchmarkFitView } from './synthetic-benchmark.ts';

/** 3×5 pixel glyphs (rows top to bottom, 3 bits each, MSB left) for tick labels. */
const GLYPHS: Record<string, number[]> = {
  0: [7, 5, 5, 5, 7],
  1: [2, 6, 2, 2, 7],
  2: [7, 1, 7, 4, 7],
  3: [7, 1, 7, 1, 7],
  4: [5, 5, 7, 1, 1],
  5: [7, 4, 7, 1, 7],
  6: [7, 4, 7, 5, 7],
  7: [7, 1, 1, 1, 1],
  8: [7, 5, 7, 5, 7],
  9: [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2],
  '%': [5, 1, 2, 4, 5],
  m: [0, 0, 7, 7, 5],
  ' ': [0, 0, 0, 0, 0],
};

/** Draw `text` (digits, '.', '%', 'm', ' ') with its top-left at (x, y), each font pixel `scale`×`scale`. */
export function drawText(image: RgbaImage, text: string, x: number, y: number, rgb: [number, number, number], scale = 2): void {
  for (const [i, ch] of [...text].entries()) {
    const glyph = GLYPHS[ch] ?? GLYPHS[' '];
    for (let row = 0; row < 5; row++)
      for (let column = 0; column < 3; column++) {
        if (!((glyph[row] >> (2 - column)) & 1)) continue;
        fillRect(image, x + i * 4 * scale + column * scale, y + row * scale, scale, scale, rgb);
      }
  }
}

export function fillRect(image: RgbaImage, x: number, y: number, width: number, height: number, rgb: [number, number, number]): void {
  for (let r = Math.max(0, y); r < Math.min(image.height, y + height); r++)
    for (let c = Math.max(0, x); c < Math.min(image.width, x + width); c++) {
      const p = 4 * (r * image.width + c);
      image.data[p] = rgb[0];
      image.data[p + 1] = rgb[1];
      image.data[p + 2] = rgb[2];
      image.data[p + 3] = 255;
    }
}

/** Colour ramp for t in 0..1: dark blue → cyan → green → yellow → red (8-bit RGB). */
export function errorRampRgb(t: number): [number, number, number] {
  const stops: [number, number, number][] = [
    [30, 40, 160],
    [20, 170, 220],
    [40, 190, 70],
    [240, 220, 40],
    [220, 30, 30],
  ];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1),
    i = Math.min(stops.length - 2, Math.floor(x)),
    f = x - i;
  return [0, 1, 2].map((k) => Math.round(stops[i][k] * (1 - f) + stops[i + 1][k] * f)) as [number, number, number];
}

/**
 * The fitted mesh drawn over a darkened copy of `image`, coloured by per-vertex error
 * (`errorsMm` [n], vertices 0..n-1; others and failures are grey), lit a little so the shape
 * reads, with a vertical colour legend at the right (ticks every mm up to `maxMm`, labelled).
 * `fit` is in the image's pixels; the result is `image`'s size.
 */
export function renderErrorHeatmap(image: RgbaImage, fit: BenchmarkFitView, errorsMm: ArrayLike<number>, model: MorphableModel, maxMm: number): RgbaImage {
  const { width, height } = image;
  const out = createRgbaImage(width, height);
  for (let p = 0; p < image.data.length; p += 4) {
    for (let k = 0; k < 3; k++) out.data[p + k] = 0.35 * image.data[p + k];
    out.data[p + 3] = 255;
  }
  const triangles = trianglesWithinVertexRange(model.triangles, model.vertexCount);
  const cameraPoints = transformPointsArray(fit.vertices, fit.rotation, fit.translationMm);
  const clip = cameraToClipArray(cameraPoints, { focalPx: fit.focalPx, principalPointPx: fit.principalPointPx, width, height });
  const raster = rasterize(clip, triangles, { width, height }, { cullBackFaces: true });
  const vertexRgb = new Float32Array(model.vertexCount * 3).fill(110);
  for (let v = 0; v < Math.min(errorsMm.length, model.vertexCount); v++) vertexRgb.set(errorRampRgb(errorsMm[v] / maxMm), 3 * v);
  for (let p = 0; p < width * height; p++) {
    const id = raster.triangleIdPlusOne[p];
    if (id === 0) continue;
    const t = 3 * (id - 1),
      b1 = raster.barycentrics[2 * p],
      b2 = raster.barycentrics[2 * p + 1],
      b0 = 1 - b1 - b2;
    const a = triangles[t],
      b = triangles[t + 1],
      c = triangles[t + 2];
    // Flat facet normal for a little relief.
    const e1 = [0, 1, 2].map((k) => cameraPoints[3 * b + k] - cameraPoints[3 * a + k]),
      e2 = [0, 1, 2].map((k) => cameraPoints[3 * c + k] - cameraPoints[3 * a + k]);
    const nz = e1[0] * e2[1] - e1[1] * e2[0],
      length = Math.hypot(e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], nz) || 1;
    const shade = 0.6 + 0.4 * Math.abs(nz / length);
    for (let k = 0; k < 3; k++) out.data[4 * p + k] = shade * (b0 * vertexRgb[3 * a + k] + b1 * vertexRgb[3 * b + k] + b2 * vertexRgb[3 * c + k]);
  }
  drawLegend(out, maxMm);
  return out;
}

/** Vertical colour bar at the right edge, 0 at the bottom, `maxMm` at the top, a tick and label per mm. */
function drawLegend(image: RgbaImage, maxMm: number): void {
  const scale = Math.max(1, Math.round(image.height / 256));
  const barWidth = 6 * scale,
    top = 8 * scale,
    bottom = image.height - 8 * scale,
    x = image.width - barWidth - 4 * scale;
  for (let y = top; y < bottom; y++) fillRect(image, x, y, barWidth, 1, errorRampRgb(1 - (y - top) / (bottom - top)));
  for (let mm = 0; mm <= maxMm; mm++) {
    const y = Math.round(bottom - 1 - (mm / maxMm) * (bottom - 1 - top));
    fillRect(image, x - 3 * scale, y, 3 * scale, 1, [255, 255, 255]);
    drawText(image, String(mm), x - 8 * scale, y - 2 * scale, [255, 255, 255], scale);
  }
  drawText(image, 'mm', x - 2 * scale, 1 * scale, [255, 255, 255], scale);
}

/** One histogram series: per-vertex errors (mm) of a method, and its bar colour. */
export interface HistogramSeries {
  name: string;
  errorsMm: ArrayLike<number>;
  rgb: [number, number, number];
}

/**
 * Histogram of per-vertex errors as an image: bins of `binMm` from 0 to `maxMm` (larger errors
 * go to the last bin), each series' bars side by side within a bin, heights as the fraction of
 * the series' vertices; x ticks every mm (labelled every 1 or 2), y ticks every 5 % (labelled).
 */
export function renderErrorHistogram(series: HistogramSeries[], maxMm = 10, binMm = 0.25, widthPx = 720, heightPx = 360): RgbaImage {
  const image = createRgbaImage(widthPx, heightPx);
  fillRect(image, 0, 0, widthPx, heightPx, [250, 250, 250]);
  const bins = Math.round(maxMm / binMm);
  const fractions = series.map((s) => {
    const counts = new Float64Array(bins);
    for (let i = 0; i < s.errorsMm.length; i++) counts[Math.min(bins - 1, Math.floor(s.errorsMm[i] / binMm))]++;
    return counts.map((c) => c / Math.max(1, s.errorsMm.length));
  });
  const peak = Math.max(0.05, ...fractions.flatMap((f) => [...f]));
  const yMax = Math.ceil(peak / 0.05) * 0.05;
  const left = 44,
    right = widthPx - 12,
    top = 12 + 12 * series.length,
    bottom = heightPx - 28;
  const binWidth = (right - left) / bins,
    barWidth = Math.max(1, Math.floor(binWidth / Math.max(1, series.length)));
  fractions.forEach((f, s) => {
    for (let b = 0; b < bins; b++) {
      const barHeight = Math.round((f[b] / yMax) * (bottom - top));
      fillRect(image, Math.round(left + b * binWidth + s * barWidth), bottom - barHeight, barWidth, barHeight, series[s].rgb);
    }
  });
  const ink: [number, number, number] = [30, 30, 30];
  fillRect(image, left, bottom, right - left, 1, ink);
  fillRect(image, left - 1, top, 1, bottom - top + 1, ink);
  const labelEvery = maxMm > 12 ? 2 : 1;
  for (let mm = 0; mm <= maxMm; mm++) {
    const x = Math.round(left + (mm / binMm) * binWidth);
    fillRect(image, x, bottom, 1, 5, ink);
    if (mm % labelEvery === 0) drawText(image, String(mm), x - 3, bottom + 8, ink);
  }
  drawText(image, 'mm', right - 16, bottom + 18, ink);
  for (let percent = 0; percent <= Math.round(yMax * 100); percent += 5) {
    const y = Math.round(bottom - (percent / 100 / yMax) * (bottom - top));
    fillRect(image, left - 5, y, 5, 1, ink);
    drawText(image, `${percent}%`, 4, y - 4, ink);
  }
  // Key: a colour swatch per series (top left), in the series order.
  series.forEach((s, i) => fillRect(image, left + 8, 6 + 12 * i, 24, 8, s.rgb));
  return image;
}
