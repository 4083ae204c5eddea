import { createRgbaImage, downscaleToMaxSide, type RgbaImage } from '../common/image.ts';
import { renderOverlay } from '../fit/render-overlay.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { summarizeErrors } from './error-statistics.ts';
import { YAW_BUCKETS, type BenchmarkRow, type SyntheticBenchmarkResult } from './synthetic-benchmark.ts';

export interface ContactSheetConfig {
  /** Most images shown (the first ones). */
  maxImages: number;
  /** Side of one square cell (px). */
  cellPx: number;
  /** Input | overlay pairs per sheet row. */
  pairsPerRow: number;
  /** Which method's fits to overlay. */
  method: string;
}

export const DEFAULT_CONTACT_SHEET_CONFIG: Readonly<ContactSheetConfig> = Object.freeze({ maxImages: 12, cellPx: 256, pairsPerRow: 3, method: 'graphics' });

/**
 * A contact sheet of the synthetic benchmark: for each of the first `maxImages` images, the
 * studio render next to the fitted mesh drawn over it (`renderOverlay`: clay mesh, detected
 * landmarks green, projected red). A failed image's overlay cell is the render tinted red.
 * RGBA, top-left origin; cells are letterboxed on a dark grey ground.
 */
export function renderContactSheet(result: SyntheticBenchmarkResult, model: MorphableModel, configOverrides: Partial<ContactSheetConfig> = {}): RgbaImage {
  const config = { ...DEFAULT_CONTACT_SHEET_CONFIG, ...configOverrides };
  if (!Number.isInteger(config.maxImages) || config.maxImages < 1 || !Number.isInteger(config.cellPx) || config.cellPx < 16 || !Number.isInteger(config.pairsPerRow) || config.pairsPerRow < 1) {
    throw new RangeError('contact sheet needs maxImages ≥ 1, cellPx ≥ 16 and pairsPerRow ≥ 1 (integers)');
  }
  const count = Math.min(config.maxImages, result.renders.length);
  const columns = 2 * Math.min(config.pairsPerRow, Math.max(1, count));
  const rows = Math.max(1, Math.ceil(count / config.pairsPerRow));
  const gap = 4;
  const sheet = createRgbaImage(columns * (config.cellPx + gap) + gap, rows * (config.cellPx + gap) + gap);
  for (let p = 0; p < sheet.data.length; p += 4) { sheet.data[p] = sheet.data[p + 1] = sheet.data[p + 2] = 40; sheet.data[p + 3] = 255; }
  const samples = result.samples[config.method] ?? [];
  for (let i = 0; i < count; i++) {
    const input = result.renders[i].image;
    const sample = samples[i];
    let overlay: RgbaImage;
    if (sample?.ok && sample.fit) overlay = renderOverlay(input, [sample.fit], model, { maxSidePx: config.cellPx });
    else overlay = tint(input, [255, 40, 40], 0.45);
    const row = Math.floor(i / config.pairsPerRow), pair = i % config.pairsPerRow;
    const y = gap + row * (config.cellPx + gap);
    paste(sheet, downscaleToMaxSide(input, config.cellPx).image, gap + 2 * pair * (config.cellPx + gap), y, config.cellPx);
    paste(sheet, downscaleToMaxSide(overlay, config.cellPx).image, gap + (2 * pair + 1) * (config.cellPx + gap), y, config.cellPx);
  }
  return sheet;
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
    '![contact sheet](contact-sheet.png)', '', '## Images', '', '| # | scene seed | yaw ° | method | result |', '|---:|---:|---:|---|---|');
  for (const [method, samples] of Object.entries(result.samples)) {
    if (method === 'mean-face') continue;
    for (const s of samples) {
      const outcome = s.ok ? `median ${fmt(summarizeErrors(s.vertexErrorsMm!).median)} mm, NME ${fmt(100 * (s.landmarkNme ?? NaN))} %, ${s.ms.toFixed(0)} ms` : `failed (${s.failure})`;
      lines.push(`| ${s.index + 1} | ${s.sceneSeed} | ${s.yawDeg.toFixed(1)} | ${method} | ${outcome} |`);
    }
  }
  return lines.join('\n') + '\n';
}

function rowLine(r: BenchmarkRow, fmt: (v: number, d?: number) => string): string {
  const buckets = YAW_BUCKETS.map(([l, h]) => { const b = r.byYaw[`${l}-${h}`]; return b.images ? `${fmt(b.medianMm)} (${b.images})` : '—'; });
  return `| ${r.name} | ${fmt(r.medianMm)} | ${fmt(r.meanMm)} | ${fmt(r.p90Mm)} | ${r.landmarkNme === null ? '—' : fmt(100 * r.landmarkNme)} | ${(100 * r.successRate).toFixed(0)} % | ${r.msPerImage} | ${buckets.join(' | ')} |`;
}

/** The JSON report: rows plus one record per image and method (no arrays of vertices). */
export function benchmarkReportJson(result: SyntheticBenchmarkResult, commandLine: string): object {
  const images = Object.entries(result.samples).flatMap(([method, samples]) => samples.map((s) => ({
    method, index: s.index, sceneSeed: s.sceneSeed, yawDeg: s.yawDeg, ok: s.ok, failure: s.failure ?? null, ms: Math.round(s.ms),
    medianMm: s.vertexErrorsMm ? summarizeErrors(s.vertexErrorsMm).median : null, landmarkNme: s.landmarkNme ?? null,
  })));
  return { command: commandLine, rows: result.rows, images };
}
