import { interOcularDistance, type FaceReconstruction, type Reconstructor } from '../api/reconstruct.ts';
import { FacegarError } from '../common/errors.ts';
import type { FitConfig } from '../fit/fit-config.ts';
import type { GarRefineConfig, GarRefinePresetName } from '../fit/gar-refine-config.ts';
import { applySimilarityTransform, estimateSimilarityTransform } from '../geometry/similarity-alignment.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { hashSeed } from '../common/seeded-random.ts';
import { renderStudioPhoto, type StudioRender } from '../shading/studio-renderer.ts';
import { sampleStudioScene, type StudioSceneConfig } from '../shading/studio-scene.ts';
import { concatSamples, summarizeErrors } from './error-statistics.ts';

export const YAW_BUCKETS = [[0, 20], [20, 40], [40, 60]] as const;

/**
 * Seed of benchmark image `index`: hash('benchmark', seed, index). Training data derives its
 * scenes from a different first tag (e.g. hash('train', …)), so the two streams never share a
 * scene even for equal seeds.
 */
export function benchmarkSceneSeed(seed: number, index: number): number {
  return hashSeed('benchmark', seed, index);
}

export interface SyntheticBenchmarkConfig {
  count: number;
  seed: number;
  /** Fit options for the graphics path (e.g. fewer steps in tests). */
  fit: Partial<FitConfig>;
  scene: Partial<StudioSceneConfig>;
  /**
   * Methods compared, each a row: `graphics` (graphics-renderer fit), `gar-mean-init` (GAR
   * refinement from the mean face and w̄), `gar-encoder-init` (GAR refinement from the encoder's
   * estimate), the paper's three variants. Default: graphics, plus the GAR rows the reconstructor can run.
   */
  methods?: BenchmarkMethod[];
  /** GAR rows: refinement preset. Default `default`. */
  garPreset: GarRefinePresetName;
  /** GAR rows: overrides of the preset (e.g. fewer steps in tests). */
  garRefine?: Partial<GarRefineConfig>;
}

export const BENCHMARK_METHODS = ['graphics', 'gar-mean-init', 'gar-encoder-init'] as const;
export type BenchmarkMethod = typeof BENCHMARK_METHODS[number];

export const DEFAULT_SYNTHETIC_BENCHMARK_CONFIG: Readonly<SyntheticBenchmarkConfig> = Object.freeze({ count: 50, seed: 1, fit: {}, scene: {}, garPreset: 'default' });

/** The methods a reconstructor can run: graphics always, the GAR rows when it holds a GAR (encoder row: with an encoder). */
export function availableBenchmarkMethods(reconstructor: Reconstructor): BenchmarkMethod[] {
  const gar = reconstructor.garAvailable;
  return ['graphics', ...(gar.gar ? ['gar-mean-init' as const] : []), ...(gar.encoder ? ['gar-encoder-init' as const] : [])];
}

/** Per-yaw-bucket summary, keyed "0-20", "20-40", "40-60". */
export type YawBreakdown = Record<string, { medianMm: number; meanMm: number; p90Mm: number; images: number }>;

export interface BenchmarkRow {
  name: string;
  medianMm: number;
  meanMm: number;
  p90Mm: number;
  /** Mean 2D landmark distance / true inter-ocular distance; null when the row does not fit landmarks. */
  landmarkNme: number | null;
  successRate: number;
  msPerImage: number;
  byYaw: YawBreakdown;
}

/** One image's outcome for one method. */
export interface BenchmarkSample {
  index: number;
  sceneSeed: number;
  yawDeg: number;
  ok: boolean;
  failure?: string;
  /** [narrow face vertex count] mm, after similarity alignment; absent when failed. */
  vertexErrorsMm?: Float64Array;
  landmarkNme?: number;
  ms: number;
  /** Predicted model-space vertices [V*3] (for reports). */
  vertices?: Float32Array;
  /** Pose, camera and landmarks of the fit (for overlays in reports); absent for mean-face and failures. */
  fit?: BenchmarkFitView;
}

/** What an overlay of a fit needs (see `renderOverlay`). */
export type BenchmarkFitView = Pick<FaceReconstruction, 'vertices' | 'rotation' | 'translationMm' | 'focalPx' | 'principalPointPx' | 'landmarks2d' | 'detectedLandmarks2d'>;

export interface SyntheticBenchmarkResult {
  rows: BenchmarkRow[];
  samples: Record<string, BenchmarkSample[]>;
  renders: StudioRender[];
}

/**
 * Per-vertex error (mm) between a prediction and the truth on the narrow face area, after the
 * least-squares similarity alignment of the prediction onto the truth over those vertices
 * (same topology: the correspondences are the vertex ids).
 */
export function alignedVertexErrorsMm(predicted: ArrayLike<number>, truth: ArrayLike<number>, vertexCount: number): Float64Array {
  const p = Float64Array.from({ length: vertexCount * 3 }, (_, i) => predicted[i]);
  const t = Float64Array.from({ length: vertexCount * 3 }, (_, i) => truth[i]);
  const aligned = applySimilarityTransform(p, estimateSimilarityTransform(p, t));
  const errors = new Float64Array(vertexCount);
  for (let v = 0; v < vertexCount; v++) errors[v] = Math.hypot(aligned[3 * v] - t[3 * v], aligned[3 * v + 1] - t[3 * v + 1], aligned[3 * v + 2] - t[3 * v + 2]);
  return errors;
}

/** Mean 2D distance between two [68*2] landmark sets over the true inter-ocular distance. */
export function landmarkNme(predicted: ArrayLike<number>, truth: Float32Array): number {
  let sum = 0;
  for (let k = 0; k < 68; k++) sum += Math.hypot(predicted[2 * k] - truth[2 * k], predicted[2 * k + 1] - truth[2 * k + 1]);
  return sum / 68 / interOcularDistance(truth);
}

/** Render `count` studio photos (seeds from {@link benchmarkSceneSeed}); deterministic. */
export function renderBenchmarkScenes(model: MorphableModel, config: Pick<SyntheticBenchmarkConfig, 'count' | 'seed' | 'scene'>): StudioRender[] {
  return Array.from({ length: config.count }, (_, index) => renderStudioPhoto(model, sampleStudioScene(model, benchmarkSceneSeed(config.seed, index), config.scene)));
}

/**
 * Run the synthetic benchmark: render the photos, reconstruct each through `reconstructor`
 * (detection included: a missed face counts against the success rate), and summarise the
 * errors. Always includes a `mean-face` row (the model's neutral shape, no fitting).
 * `onImage` is called after each image with a one-line description.
 */
export async function runSyntheticBenchmark(model: MorphableModel, reconstructor: Reconstructor | undefined, configOverrides: Partial<SyntheticBenchmarkConfig> = {},
                                            onImage?: (index: number, count: number, line: string) => void): Promise<SyntheticBenchmarkResult> {
  const config = { ...DEFAULT_SYNTHETIC_BENCHMARK_CONFIG, ...configOverrides };
  if (!Number.isInteger(config.count) || config.count < 1) throw new RangeError(`count must be a positive integer, got ${config.count}`);
  const narrow = model.narrowFaceVertexCount;
  const methods = reconstructor ? config.methods ?? availableBenchmarkMethods(reconstructor) : [];
  if (reconstructor) {
    const available = availableBenchmarkMethods(reconstructor);
    const missing = methods.find((m) => !available.includes(m));
    if (missing) throw new RangeError(`method ${missing} needs ${missing === 'gar-encoder-init' ? 'an encoder' : 'a GAR'} in the reconstructor`);
  }
  const samples: Record<string, BenchmarkSample[]> = { 'mean-face': [] };
  for (const method of methods) samples[method] = [];
  const renders: StudioRender[] = [];
  for (let index = 0; index < config.count; index++) {
    const sceneSeed = benchmarkSceneSeed(config.seed, index);
    const render = renderStudioPhoto(model, sampleStudioScene(model, sceneSeed, config.scene));
    renders.push(render);
    const yawDeg = render.truth.anglesDeg[1];
    samples['mean-face'].push({ index, sceneSeed, yawDeg, ok: true, ms: 0, vertexErrorsMm: alignedVertexErrorsMm(model.neutral, render.truth.verticesModel, narrow), vertices: model.neutral });
    let line = `image ${index + 1}/${config.count} yaw ${yawDeg.toFixed(0)}°`;
    for (const method of methods) {
      const started = performance.now();
      let sample: BenchmarkSample;
      try {
        const result = await reconstructor!.reconstruct(render.image, {
          maxFaces: 1, fit: config.fit,
          ...(method === 'graphics' ? { renderer: 'graphics' } : { renderer: 'gar', garPreset: config.garPreset, garRefine: config.garRefine, garStart: method === 'gar-mean-init' ? 'mean' : 'encoder' }),
        });
        const face = result.faces[0];
        sample = {
          index, sceneSeed, yawDeg, ok: true, ms: performance.now() - started, vertices: face.vertices,
          fit: { vertices: face.vertices, rotation: face.rotation, translationMm: face.translationMm, focalPx: face.focalPx, principalPointPx: face.principalPointPx, landmarks2d: face.landmarks2d, detectedLandmarks2d: face.detectedLandmarks2d },
          vertexErrorsMm: alignedVertexErrorsMm(face.vertices, render.truth.verticesModel, narrow),
          landmarkNme: landmarkNme(face.landmarks2d, render.truth.landmarks2d),
        };
        const errors = summarizeErrors(sample.vertexErrorsMm!);
        line += `; ${method} median ${errors.median.toFixed(2)} mm, NME ${(100 * sample.landmarkNme!).toFixed(1)} %, ${sample.ms.toFixed(0)} ms`;
      } catch (error) {
        if (!(error instanceof FacegarError)) throw error;
        sample = { index, sceneSeed, yawDeg, ok: false, failure: error.code, ms: performance.now() - started };
        line += `; ${method} failed (${error.code})`;
      }
      samples[method].push(sample);
    }
    onImage?.(index, config.count, line);
  }
  const rows = Object.entries(samples).map(([name, list]) => summarizeRow(name, list, name !== 'mean-face'));
  return { rows, samples, renders };
}

function summarizeRow(name: string, samples: BenchmarkSample[], hasLandmarks: boolean): BenchmarkRow {
  const ok = samples.filter((s) => s.ok);
  const all = summarizeErrors(concatSamples(ok.map((s) => s.vertexErrorsMm!)));
  const byYaw: YawBreakdown = {};
  for (const [low, high] of YAW_BUCKETS) {
    const inBucket = ok.filter((s) => Math.abs(s.yawDeg) >= low && (Math.abs(s.yawDeg) < high || high === 60));
    const summary = summarizeErrors(concatSamples(inBucket.map((s) => s.vertexErrorsMm!)));
    byYaw[`${low}-${high}`] = { medianMm: round(summary.median), meanMm: round(summary.mean), p90Mm: round(summary.p90), images: inBucket.length };
  }
  const nmes = ok.map((s) => s.landmarkNme ?? NaN);
  return {
    name,
    medianMm: round(all.median), meanMm: round(all.mean), p90Mm: round(all.p90),
    landmarkNme: hasLandmarks && nmes.length ? round(nmes.reduce((a, b) => a + b, 0) / nmes.length, 4) : null,
    successRate: samples.length ? ok.length / samples.length : 0,
    msPerImage: round(samples.reduce((s, x) => s + x.ms, 0) / Math.max(1, samples.length), 0),
    byYaw,
  };
}

function round(value: number, digits = 3): number {
  return Number.isFinite(value) ? Number(value.toFixed(digits)) : NaN;
}

/** The rows as an aligned text table. */
export function formatBenchmarkTable(rows: BenchmarkRow[]): string {
  const header = ['method', 'median mm', 'mean mm', 'p90 mm', 'NME %', 'success', 'ms/img', ...YAW_BUCKETS.map(([l, h]) => `median ${l}-${h}°`)];
  const lines = rows.map((r) => [r.name, r.medianMm.toFixed(2), r.meanMm.toFixed(2), r.p90Mm.toFixed(2), r.landmarkNme === null ? '—' : (100 * r.landmarkNme).toFixed(2),
    `${(100 * r.successRate).toFixed(0)} %`, String(r.msPerImage), ...YAW_BUCKETS.map(([l, h]) => { const b = r.byYaw[`${l}-${h}`]; return b.images ? `${b.medianMm.toFixed(2)} (${b.images})` : '—'; })]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  return [header, ...lines].map((l) => l.map((c, i) => c.padEnd(widths[i])).join('  ')).join('\n') + '\n';
}
