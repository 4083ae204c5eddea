import { createRgbaImage, downscaleToMaxSide, type RgbaImage } from '../common/image.ts';
import { renderOverlay } from '../fit/render-overlay.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { concatSamples, summarizeErrors } from './error-statistics.ts';
import { renderErrorHeatmap, renderErrorHistogram, type HistogramSeries } from './report-drawing.ts';
import { BENCHMARK_COLUMNS_NOTE, benchmarkTableCells } from './benchmark-rows.ts';
import type { SyntheticBenchmarkResult } from './synthetic-benchmark.ts';

export interface ContactSheetConfig {
  /** Most images shown (the first ones). */
  maxImages: number;
  /** Side of one square cell (px). */
  cellPx: number;
  /** Images per sheet row; default: as many as fit in about 9 cells. */
  imagesPerRow?: number;
  /** Whose fit is overlaid (default: the first fitted method of the result). */
  method?: string;
  /** One heat-map column per method, in this order (default: every fitted method of the result). */
  heatmapMethods?: string[];
  /** Top of the heat map's colour ramp (mm); larger errors are red. */
  heatmapMaxMm: number;
}

export const DEFAULT_CONTACT_SHEET_CONFIG: Readonly<ContactSheetConfig> = Object.freeze({ maxImages: 12, cellPx: 256, heatmapMaxMm: 5 });

/** The methods of a result that fitted something (all but mean-face), in row order. */
export function fittedMethods(result: Pick<SyntheticBenchmarkResult, 'samples'>): string[] {
  return Object.keys(result.samples).filter((m) => m !== 'mean-face');
}

/**
 * A contact sheet of the synthetic benchmark: for each of the first `maxImages` images, the
 * photo, one method's fitted mesh drawn over it (`renderOverlay`: clay mesh, detected landmarks
 * green, projected red), then for each method its fitted mesh coloured by per-vertex error over
 * the full face area (`renderErrorHeatmap`, legend in mm), so methods compare face by face. A
 * failed image's cells are the photo tinted red. RGBA, top-left origin; cells are letterboxed
 * on a dark grey ground.
 */
export function renderContactSheet(result: SyntheticBenchmarkResult, model: MorphableModel, configOverrides: Partial<ContactSheetConfig> = {}): RgbaImage {
  const config = { ...DEFAULT_CONTACT_SHEET_CONFIG, ...configOverrides };
  const heatmapMethods = config.heatmapMethods ?? fittedMethods(result);
  const overlayMethod = config.method ?? heatmapMethods[0] ?? 'graphics';
  const cellsPerImage = 2 + heatmapMethods.length;
  const imagesPerRow = config.imagesPerRow ?? Math.max(1, Math.floor(9 / cellsPerImage));
  if (
    !Number.isInteger(config.maxImages) ||
    config.maxImages < 1 ||
    !Number.isInteger(config.cellPx) ||
    config.cellPx < 16 ||
    !Number.isInteger(imagesPerRow) ||
    imagesPerRow < 1 ||
    !(config.heatmapMaxMm > 0)
  ) {
    throw new RangeError('contact sheet needs maxImages ≥ 1, cellPx ≥ 16 and imagesPerRow ≥ 1 (integers) and heatmapMaxMm > 0');
  }
  const count = Math.min(config.maxImages, result.faces.length);
  const columns = cellsPerImage * Math.min(imagesPerRow, Math.max(1, count));
  const rows = Math.max(1, Math.ceil(count / imagesPerRow));
  const gap = 4;
  const sheet = createRgbaImage(columns * (config.cellPx + gap) + gap, rows * (config.cellPx + gap) + gap);
  for (let p = 0; p < sheet.data.length; p += 4) {
    sheet.data[p] = sheet.data[p + 1] = sheet.data[p + 2] = 40;
    sheet.data[p + 3] = 255;
  }
  for (let i = 0; i < count; i++) {
    const input = result.faces[i].image;
    const { image: small, scale } = downscaleToMaxSide(input, config.cellPx);
    const failed = tint(small, [255, 40, 40], 0.45);
    const overlaid = result.samples[overlayMethod]?.[i];
    const overlay =
      overlaid?.ok && overlaid.fit
        ? downscaleToMaxSide(renderOverlay(input, [overlaid.fit], model, { maxSidePx: config.cellPx }), config.cellPx).image
        : failed;
    const heatmaps = heatmapMethods.map((method) => {
      const sample = result.samples[method]?.[i];
      if (!sample?.ok || !sample.fit || !sample.faceErrorsMm) return failed;
      const fit = sample.fit;
      return renderErrorHeatmap(
        small,
        { ...fit, focalPx: fit.focalPx * scale, principalPointPx: [fit.principalPointPx[0] * scale, fit.principalPointPx[1] * scale] },
        sample.faceErrorsMm,
        model,
        config.heatmapMaxMm,
      );
    });
    const row = Math.floor(i / imagesPerRow),
      slot = i % imagesPerRow;
    const y = gap + row * (config.cellPx + gap);
    [small, overlay, ...heatmaps].forEach((cell, k) => paste(sheet, cell, gap + (cellsPerImage * slot + k) * (config.cellPx + gap), y, config.cellPx));
  }
  return sheet;
}

const SERIES_RGB: Record<string, [number, number, number]> = {
  'mean-face': [150, 150, 150],
  graphics: [235, 120, 30],
  'gar-mean-init': [60, 120, 220],
  'gar-encoder-init': [60, 170, 90],
  'oracle-landmarks': [200, 60, 160],
  'true-pose': [120, 90, 40],
  'true-focal': [40, 170, 190],
};

/**
 * Histogram PNG of the per-vertex errors (mm, full face area) of every successful image, one bar
 * colour per method (mean-face grey, graphics orange, GAR rows blue/green, oracle-landmarks
 * magenta, true-pose brown, true-focal teal), 0.25 mm bins up to 10 mm.
 */
export function renderBenchmarkHistogram(result: SyntheticBenchmarkResult): RgbaImage {
  const series: HistogramSeries[] = Object.entries(result.samples).map(([name, samples]) => ({
    name,
    errorsMm: concatSamples(samples.filter((s) => s.ok && s.faceErrorsMm).map((s) => s.faceErrorsMm!)),
    rgb: SERIES_RGB[name] ?? [120, 60, 160],
  }));
  return renderErrorHistogram(series);
}

/** Copy `image` (at most cell × cell) centred into the cell whose top-left corner is (x, y). */
function paste(target: RgbaImage, image: RgbaImage, x: number, y: number, cell: number): void {
  const ox = x + Math.floor((cell - image.width) / 2),
    oy = y + Math.floor((cell - image.height) / 2);
  for (let r = 0; r < image.height; r++) {
    const from = 4 * r * image.width;
    target.data.set(image.data.subarray(from, from + 4 * image.width), 4 * ((oy + r) * target.width + ox));
  }
}

function tint(image: RgbaImage, rgb: [number, number, number], amount: number): RgbaImage {
  const out = createRgbaImage(image.width, image.height);
  for (let p = 0; p < image.data.length; p += 4) {
    for (let c = 0; c < 3; c++) out.data[p + c] = (1 - amount) * image.data[p + c] + amount * rgb[c];
    out.data[p + 3] = 255;
  }
  return out;
}

/** The benchmark as a Markdown report: the table, the command that made it, and per-image lines. */
export function formatBenchmarkMarkdown(result: SyntheticBenchmarkResult, commandLine: string): string {
  const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '—');
  const { header, lines: cells } = benchmarkTableCells(result.rows);
  const heatmaps = fittedMethods(result);
  const lines = [
    '# facegar synthetic benchmark',
    '',
    `Command: \`${commandLine}\``,
    '',
    `| ${header.join(' | ')} |`,
    `|---|${header
      .slice(1)
      .map(() => '---:')
      .join('|')}|`,
    ...cells.map((c) => `| ${c.join(' | ')} |`),
    '',
    BENCHMARK_COLUMNS_NOTE,
    '',
    '![contact sheet](contact-sheet.png)',
    '',
    `Contact sheet: photo | ${heatmaps[0] ?? 'fit'} overlay | per-vertex error heat map (full face area, legend in mm) of ${heatmaps.join(', ')}, in that order; red-tinted cells: no fit.`,
    '',
    '![error histogram](error-histogram.png)',
    '',
    `Histogram of per-vertex errors, full face area (bars: ${Object.keys(result.samples)
      .map((n) => `${n} ${SERIES_RGB[n] ? colourName(SERIES_RGB[n]) : 'purple'}`)
      .join(', ')}).`,
    '',
    '## Images',
    '',
    '| # | scene seed | yaw ° | method | result |',
    '|---:|---:|---:|---|---|',
  ];
  for (const [method, samples] of Object.entries(result.samples)) {
    if (method === 'mean-face') continue;
    for (const s of samples) {
      const outcome = s.ok
        ? `median ${fmt(summarizeErrors(s.faceErrorsMm!).median)} mm, NME ${fmt(100 * (s.landmarkNme ?? NaN))} %, ${s.ms.toFixed(0)} ms`
        : `failed (${s.failure})`;
      lines.push(`| ${s.index + 1} | ${s.sceneSeed} | ${s.yawDeg.toFixed(1)} | ${method} | ${outcome} |`);
    }
  }
  return lines.join('\n') + '\n';
}

function colourName(rgb: [number, number, number]): string {
  const names: Record<string, string> = {
    '150,150,150': 'grey',
    '235,120,30': 'orange',
    '60,120,220': 'blue',
    '60,170,90': 'green',
    '200,60,160': 'magenta',
    '120,90,40': 'brown',
    '40,170,190': 'teal',
  };
  return names[rgb.join(',')] ?? 'purple';
}

/** The JSON report: rows, one record per image and method (no arrays of vertices), and each image's scene record. */
export function benchmarkReportJson(result: SyntheticBenchmarkResult, commandLine: string): object {
  const images = Object.entries(result.samples).flatMap(([method, samples]) =>
    samples.map((s) => ({
      method,
      index: s.index,
      sceneSeed: s.sceneSeed,
      yawDeg: s.yawDeg,
      ok: s.ok,
      failure: s.failure ?? null,
      ms: Math.round(s.ms),
      medianMm: s.faceErrorsMm ? summarizeErrors(s.faceErrorsMm).median : null,
      narrowMedianMm: s.vertexErrorsMm ? summarizeErrors(s.vertexErrorsMm).median : null,
      landmarkNme: s.landmarkNme ?? null,
      focalPx: s.focalPx ?? null,
      trueFocalPx: result.faces[s.index]?.truth.focalPx ?? null,
    })),
  );
  const scenes = result.faces.map((face, index) => ({ index, ...face.record }));
  return { command: commandLine, columns: BENCHMARK_COLUMNS_NOTE, rows: result.rows, images, scenes };
}
