// One row per method of the synthetic benchmark: error after similarity alignment (the main
// number: per image the median over the full face area, then the mean over images), its ratio to
// the mean face, identity correlation with the truth, focal-length error, landmark NME, success
// rate, time, and the same error split by |yaw|.
import type { MorphableModel } from '../morphable/morphable-model.ts';
import type { BenchmarkTruth } from './benchmark-set.ts';
import { concatSamples, quantile, summarizeErrors } from './error-statistics.ts';
import { identityCorrelationSummary, medianRelativeError, modesByGeometricEffect, perModeCorrelation } from './identity-metrics.ts';

/** |yaw| buckets (degrees); the last one is closed at its top. */
export const YAW_BUCKETS = [
  [0, 30],
  [30, 60],
  [60, 90],
] as const;
/** Identity modes counted in `identityCorrelationTop20`. */
export const TOP_IDENTITY_MODES = 20;

/** One image's outcome for one method. */
export interface BenchmarkSample {
  index: number;
  sceneSeed: number;
  yawDeg: number;
  ok: boolean;
  failure?: string;
  /** [narrow face vertex count] mm, after similarity alignment on the narrow area; absent when failed. */
  vertexErrorsMm?: Float64Array;
  /** [full face area vertex count] mm, after similarity alignment on the full face area; absent when failed. */
  faceErrorsMm?: Float64Array;
  landmarkNme?: number;
  ms: number;
  /** Predicted model-space vertices [V*3] (for reports). */
  vertices?: Float32Array;
  /** [K] fitted identity coefficients and the fitted focal length (px); absent for mean-face and failures. */
  identity?: Float32Array;
  focalPx?: number;
  /** Pose, camera and landmarks of the fit (for overlays in reports); absent for mean-face and failures. */
  fit?: BenchmarkFitView;
}

/** What an overlay of a fit needs (see `renderOverlay`). */
export interface BenchmarkFitView {
  vertices: Float32Array;
  rotation: Float64Array;
  translationMm: [number, number, number];
  focalPx: number;
  principalPointPx: [number, number];
  landmarks2d: Float32Array;
  detectedLandmarks2d: Float32Array;
}

/** Per-yaw-bucket summary, keyed "0-30", "30-60", "60-90". */
export type YawBreakdown = Record<string, { faceMedianMm: number; medianMm: number; meanMm: number; p90Mm: number; images: number }>;

export interface BenchmarkRow {
  name: string;
  /** Main number: per image the median per-vertex error over the full face area (after similarity alignment), then the mean over images. */
  faceMedianMm: number;
  /** 90th percentile over images of the per-image medians. */
  faceP90Mm: number;
  /** faceMedianMm over the mean face's on the same images (the images this row fitted). */
  ratioToMeanFace: number;
  /** Mean over identity modes of the Pearson correlation across images between fitted and true coefficients; null for mean-face. */
  identityCorrelation: number | null;
  /** The same over the TOP_IDENTITY_MODES modes of largest geometric effect on the full face area. */
  identityCorrelationTop20: number | null;
  /** Median over images of |f_fit − f_true| / f_true, percent; null for mean-face. */
  focalErrorPct: number | null;
  /** Narrow face area, errors of all images pooled (the benchmark's original columns): median, mean, 90th percentile. */
  medianMm: number;
  meanMm: number;
  p90Mm: number;
  /** Mean 2D landmark distance / true inter-ocular distance; null when the row does not fit landmarks. */
  landmarkNme: number | null;
  successRate: number;
  msPerImage: number;
  byYaw: YawBreakdown;
}

/** The per-image error: the median of a sample's full-face errors. */
export function imageMedianMm(sample: BenchmarkSample): number {
  return summarizeErrors(sample.faceErrorsMm!).median;
}

/**
 * Summarise every method's samples into rows. `truths[i]` is image i's truth; `meanFace` the
 * mean-face samples (the ratio's reference). Identity correlation needs ≥ 2 fitted images.
 */
export function summarizeRows(samples: Record<string, BenchmarkSample[]>, truths: BenchmarkTruth[], model: MorphableModel): BenchmarkRow[] {
  const topModes = modesByGeometricEffect(model).slice(0, TOP_IDENTITY_MODES);
  const meanFace = samples['mean-face'] ?? [];
  return Object.entries(samples).map(([name, list]) => summarizeRow(name, list, truths, meanFace, topModes, name !== 'mean-face'));
}

function summarizeRow(
  name: string,
  samples: BenchmarkSample[],
  truths: BenchmarkTruth[],
  meanFace: BenchmarkSample[],
  topModes: number[],
  fitted: boolean,
): BenchmarkRow {
  const ok = samples.filter((s) => s.ok);
  const pooled = summarizeErrors(concatSamples(ok.map((s) => s.vertexErrorsMm!)));
  const medians = ok.map(imageMedianMm);
  const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN);
  const faceMedianMm = mean(medians);
  const meanFaceOnSame = mean(
    ok.map((s) => {
      const m = meanFace.find((x) => x.index === s.index);
      return m?.faceErrorsMm ? imageMedianMm(m) : NaN;
    }),
  );
  const byYaw: YawBreakdown = {};
  for (const [low, high] of YAW_BUCKETS) {
    const inBucket = ok.filter((s) => Math.abs(s.yawDeg) >= low && (Math.abs(s.yawDeg) < high || high === YAW_BUCKETS[YAW_BUCKETS.length - 1][1]));
    const summary = summarizeErrors(concatSamples(inBucket.map((s) => s.vertexErrorsMm!)));
    byYaw[`${low}-${high}`] = {
      faceMedianMm: round(mean(inBucket.map(imageMedianMm))),
      medianMm: round(summary.median),
      meanMm: round(summary.mean),
      p90Mm: round(summary.p90),
      images: inBucket.length,
    };
  }
  let identityCorrelation: number | null = null,
    identityCorrelationTop20: number | null = null,
    focalErrorPct: number | null = null;
  const withIdentity = ok.filter((s) => s.identity);
  if (fitted && withIdentity.length >= 2) {
    const perMode = perModeCorrelation(
      withIdentity.map((s) => s.identity!),
      withIdentity.map((s) => truths[s.index].identity),
    );
    const summary = identityCorrelationSummary(perMode, topModes);
    identityCorrelation = round(summary.allModes);
    identityCorrelationTop20 = round(summary.topModes);
  }
  const withFocal = ok.filter((s) => s.focalPx !== undefined);
  if (fitted && withFocal.length)
    focalErrorPct = round(
      100 *
        medianRelativeError(
          withFocal.map((s) => s.focalPx!),
          withFocal.map((s) => truths[s.index].focalPx),
        ),
      2,
    );
  const nmes = ok.map((s) => s.landmarkNme ?? NaN);
  return {
    name,
    faceMedianMm: round(faceMedianMm),
    faceP90Mm: round(medians.length ? quantile(Float64Array.from(medians).sort(), 0.9) : NaN),
    ratioToMeanFace: round(faceMedianMm / meanFaceOnSame),
    identityCorrelation,
    identityCorrelationTop20,
    focalErrorPct,
    medianMm: round(pooled.median),
    meanMm: round(pooled.mean),
    p90Mm: round(pooled.p90),
    landmarkNme: fitted && nmes.length ? round(nmes.reduce((a, b) => a + b, 0) / nmes.length, 4) : null,
    successRate: samples.length ? ok.length / samples.length : 0,
    msPerImage: round(samples.reduce((s, x) => s + x.ms, 0) / Math.max(1, samples.length), 0),
    byYaw,
  };
}

function round(value: number, digits = 3): number {
  return Number.isFinite(value) ? Number(value.toFixed(digits)) : NaN;
}

/** Column names and cell texts of the table (shared by the text and Markdown forms). */
export function benchmarkTableCells(rows: BenchmarkRow[]): { header: string[]; lines: string[][] } {
  const fmt = (v: number | null, digits = 2) => (v === null || !Number.isFinite(v) ? '—' : v.toFixed(digits));
  const header = [
    'method',
    'median mm',
    'p90 mm',
    '× mean face',
    'id r',
    'id r top20',
    'focal err %',
    'NME %',
    'success',
    'ms/img',
    ...YAW_BUCKETS.map(([l, h]) => `median ${l}-${h}°`),
    'narrow pooled median',
    'mean',
    'p90',
  ];
  const lines = rows.map((r) => [
    r.name,
    fmt(r.faceMedianMm),
    fmt(r.faceP90Mm),
    fmt(r.ratioToMeanFace),
    fmt(r.identityCorrelation),
    fmt(r.identityCorrelationTop20),
    fmt(r.focalErrorPct, 1),
    r.landmarkNme === null ? '—' : fmt(100 * r.landmarkNme),
    `${(100 * r.successRate).toFixed(0)} %`,
    String(r.msPerImage),
    ...YAW_BUCKETS.map(([l, h]) => {
      const b = r.byYaw[`${l}-${h}`];
      return b.images ? `${fmt(b.faceMedianMm)} (${b.images})` : '—';
    }),
    fmt(r.medianMm),
    fmt(r.meanMm),
    fmt(r.p90Mm),
  ]);
  return { header, lines };
}

/** What the columns mean, one paragraph (under the text table with --explain, in report.md, in the README). */
export const BENCHMARK_COLUMNS_NOTE =
  'median mm: per image, the median per-vertex error over the full face area (9,409 vertices) after a similarity alignment to the truth, then the mean over images; ' +
  "p90 mm: the 90th percentile over images of those medians; × mean face: median mm over the mean face's on the same images; " +
  'id r: mean over the identity modes of the correlation across images between fitted and true coefficients (top20: the 20 modes of largest geometric effect); ' +
  'focal err %: median over images of |f − f_true| / f_true; NME %: mean 2D landmark distance / true inter-ocular distance; median by |yaw|: median mm per bucket (images); ' +
  "narrow pooled median / mean / p90: the benchmark's original columns, all images' errors on the narrow face area (6,706 vertices, its own alignment) pooled.";

/** The rows as an aligned text table. */
export function formatBenchmarkTable(rows: BenchmarkRow[]): string {
  const { header, lines } = benchmarkTableCells(rows);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  return (
    [header, ...lines]
      .map((l) =>
        l
          .map((c, i) => c.padEnd(widths[i]))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}
