import { createRgbaImage, downscaleToMaxSide, type RgbaImage } from '../common/image.ts';
import { renderOverlay } from '../fit/render-overlay.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { studioSceneRecord } from '../shading/studio-scene.ts';
import { concatSamples, summarizeErrors } from './error-statistics.ts';
import { renderErrorHeatmap, renderErrorHistogram, type HistogramSeries } from './report-drawing.ts';
import { YAW_BUCKETS, type BenchmarkRow, type SyntheticBenchmarkResult } from './synthetic-benchmark.ts';

export interface ContactSheetConfig {
  /** Most images shown (the first ones). */
  maxImages: number;
  /** Side of one square cell (px). */
  cellPx: number;
  /** Input | overlay | heat map triples per sheet row. */
  imagesPerRow: number;
  /** Which method's fits to overlay. */
  method: string;
  /** Top of the heat map's colour ramp (mm); larger errors are red. */
  heatmapMaxMm: number;
}

export const DEFAULT_CONTACT_SHEET_CONFIG: Readonly<ContactSheetConfig> = Object.freeze({ maxImages: 12, cellPx: 256, imagesPerRow: 3, method: 'graphics', heatmapMaxMm: 5 });

/**
 * A contact sheet of the synthetic benchmark: for each of the first `maxImages` images, the
 * studio render, the fitted mesh drawn over it (`renderOverlay`: clay mesh, detected landmarks
 * green, projected red) and the fitted mesh coloured by per-vertex error (`renderErrorHeatmap`,
 * legend in mm). A failed image's overlay and heat map cells are the render tinted red.
 * RGBA, top-left origin; cells are letterboxed on a dark grey ground.
 */
export function renderContactSheet(result: SyntheticBenchmarkResult, model: MorphableModel, configOverrides: Partial<ContactSheetConfig> = {}): RgbaImage {
  const config = { ...DEFAULT_CONTACT_SHEET_CONFIG, ...configOverrides };
  if (!Number.isInteger(config.maxImages) || config.maxImages < 1 || !Number.isInteger(config.cellPx) || config.cellPx < 16 || !Number.isInteger(config.imagesPerRow) || config.imagesPerRow < 1 || !(config.heatmapMaxMm > 0)) {
    throw new RangeError('contact sheet needs maxImages ≥ 1, cellPx ≥ 16 and imagesPerRow ≥ 1 (integers) and heatmapMaxMm > 0');
  }
  const count = Math.min(config.maxImages, result.renders.length);
  const columns = 3 * Math.min(config.imagesPerRow, Math.max(1, count));
  const rows = Math.max(1, Math.ceil(count / config.imagesPerRow));
  const gap = 4;
  const sheet = createRgbaImage(columns * (config.cellPx + gap) + gap, rows * (config.cellPx + gap) + gap);
  for (let p = 0; p < sheet.data.length; p += 4) { sheet.data[p] = sheet.data[p + 1] = sheet.data[p + 2] = 40; sheet.data[p + 3] = 255; }
  const samples = result.samples[config.method] ?? [];
  for (let i = 0; i < count; i++) {
    const input = result.renders[i].image;
    const sample = samples[i];
    const { image: small, scale } = downscaleToMaxSide(input, config.cellPx);
    let overlay: RgbaImage, heatmap: RgbaImage;
    if (sample?.ok && sample.fit && sample.vertexErrorsMm) {
      overlay = renderOverlay(input, [sample.fit], model, { maxSidePx: config.cellPx });
      const fit = sample.fit;
      heatmap = renderErrorHeatmap(small, { ...fit, focalPx: fit.focalPx * scale, principalPointPx: [fit.principalPointPx[0] * scale, fit.principalPointPx[1] * scale] }, sample.vertexErrorsMm, model, config.heatmapMaxMm);
    } else {
      overlay = heatmap = tint(small, [255, 40, 40], 0.45);
    }
    const row = Math.floor(i / config.imagesPerRow), slot = i % config.imagesPerRow;
    const y = gap + row * (config.cellPx + gap);
    paste(sheet, small, gap + 3 * slot * (config.cellPx + gap), y, config.cellPx);
    paste(sheet, downscaleToMaxSide(overlay, config.cellPx).image, gap + (3 * slot + 1) * (config.cellPx + gap), y, config.cellPx);
    paste(sheet, heatmap, gap + (3 * slot + 2) * (config.cellPx + gap), y, config.cellPx);
  }
  return sheet;
}

const SERIES_RGB: Record<string, [number, number, number]> = { 'mean-face': [150, 150, 150], graphics: [235, 120, 30], 'gar-mean-init': [60, 120, 220], 'gar-encoder-init': [60, 170, 90] };

/**
 * Histogram PNG of the per-vertex errors (mm) of every successful image, one bar colour per
 * method (mean-face grey, graphics orange, GAR rows blue/green), 0.25 mm bins up to 10 mm.
 */
export function renderBenchmarkHistogram(result: SyntheticBenchmarkResult): RgbaImage {
  const series: HistogramSeries[] = Object.entries(result.samples).map(([name, samples]) => ({
    name, errorsMm: concatSamples(samples.filter((s) => s.ok && s.vertexErrorsMm).map((s) => s.vertexErrorsMm!)), rgb: SERIES_RGB[name] ?? [120, 60, 160],
  }));
  return renderErrorHistogram(series);
}

/** Copy `image` (at most cell × cell) centred into the cell whose top-left corner is (x, y). */
function paste(target: RgbaImage, image: RgbaImage, x: number, y: number, cell: number): void {
  const ox = x + Math.floor((cell - image.width) / 2), oy = y + Math.floor((cell - image.height) / 2);
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
  const lines = ['# facegar synthetic benchmark', '', `Command: \`${commandLine}\``, '',
    `| method | median mm | mean mm | p90 mm | NME % | success | ms/img | ${YAW_BUCKETS.map(([l, h]) => `median ${l}–${h}° (n)`).join(' | ')} |`,
    `|---|---:|---:|---:|---:|---:|---:|${YAW_BUCKETS.map(() => '---:').join('|')}|`];
  for (const r of result.rows) lines.push(rowLine(r, fmt));
  lines.push('', 'Per-vertex error: narrow face area, after similarity alignment to the truth. NME: mean 2D landmark distance / true inter-ocular distance.', '',
    '![contact sheet](contact-sheet.png)', '', 'Contact sheet: render | fit overlay | per-vertex error heat map (legend in mm).', '',
    '![error histogram](error-histogram.png)', '', `Histogram of per-vertex errors (bars: ${Object.keys(result.samples).map((n) => `${n} ${SERIES_RGB[n] ? colourName(SERIES_RGB[n]) : 'purple'}`).join(', ')}).`, '', '## Images', '', '| # | scene seed | yaw ° | method | result |', '|---:|---:|---:|---|---|');
  for (const [method, samples] of Object.entries(result.samples)) {
    if (method === 'mean-face') continue;
    for (const s of samples) {
      const outcome = s.ok ? `median ${fmt(summarizeErrors(s.vertexErrorsMm!).median)} mm, NME ${fmt(100 * (s.landmarkNme ?? NaN))} %, ${s.ms.toFixed(0)} ms` : `failed (${s.failure})`;
      lines.push(`| ${s.index + 1} | ${s.sceneSeed} | ${s.yawDeg.toFixed(1)} | ${method} | ${outcome} |`);
    }
  }
  return lines.join('\n') + '\n';
}

function colourName(rgb: [number, number, number]): string {
  return rgb[0] === rgb[1] ? 'grey' : rgb[0] > rgb[2] ? 'orange' : rgb[2] > rgb[1] ? 'blue' : 'green';
}

function rowLine(r: BenchmarkRow, fmt: (v: number, d?: number) => string): string {
  const buckets = YAW_BUCKETS.map(([l, h]) => { const b = r.byYaw[`${l}-${h}`]; return b.images ? `${fmt(b.medianMm)} (${b.images})` : '—'; });
  return `| ${r.name} | ${fmt(r.medianMm)} | ${fmt(r.meanMm)} | ${fmt(r.p90Mm)} | ${r.landmarkNme === null ? '—' : fmt(100 * r.landmarkNme)} | ${(100 * r.successRate).toFixed(0)} % | ${r.msPerImage} | ${buckets.join(' | ')} |`;
}

/** The JSON report: rows, one record per image and method (no arrays of vertices), and each image's scene parameters. */
export function benchmarkReportJson(result: SyntheticBenchmarkResult, commandLine: string): object {
  const images = Object.entries(result.samples).flatMap(([method, samples]) => samples.map((s) => ({
    method, index: s.index, sceneSeed: s.sceneSeed, yawDeg: s.yawDeg, ok: s.ok, failure: s.failure ?? null, ms: Math.round(s.ms),
    medianMm: s.vertexErrorsMm ? summarizeErrors(s.vertexErrorsMm).median : null, landmarkNme: s.landmarkNme ?? null,
  })));
  const scenes = result.renders.map((render, index) => ({ index, ...studioSceneRecord(render.scene) }));
  return { command: commandLine, rows: result.rows, images, scenes };
}
