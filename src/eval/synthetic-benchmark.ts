import type { LandmarkGateOptions } from '../api/landmark-source.ts';
import { interOcularDistance, type ReconstructOptions, type Reconstructor } from '../api/reconstruct.ts';
import type { RgbaImage } from '../common/image.ts';
import { FacegarError } from '../common/errors.ts';
import { UNCENTRED_IDENTITY_PRIOR_WEIGHT, type FitConfig } from '../fit/fit-config.ts';
import type { GarRefineConfig, GarRefinePresetName } from '../fit/gar-refine-config.ts';
import { applySimilarityTransform, estimateSimilarityTransform } from '../geometry/similarity-alignment.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';
import { hashSeed, SeededRandom } from '../common/seeded-random.ts';
import { renderStudioPhoto, type StudioRender } from '../shading/studio-renderer.ts';
import { sampleStudioScene, studioSceneRecord, type StudioSceneConfig } from '../shading/studio-scene.ts';
import { landmarkBoxSize } from './aflw2000-protocol.ts';
import type { BenchmarkTruth } from './benchmark-set.ts';
import { imageMedianMm, summarizeRows, type BenchmarkRow, type BenchmarkSample } from './benchmark-rows.ts';

export { YAW_BUCKETS, formatBenchmarkTable, type BenchmarkFitView, type BenchmarkRow, type BenchmarkSample, type YawBreakdown } from './benchmark-rows.ts';

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
   * estimate), the paper's three variants; and three diagnostics: `oracle-landmarks` (the graphics
   * path's landmark stage alone, fed the true 2D landmarks with the model's own landmark vertices,
   * no detector), `true-pose` (the default fit, GAR when the reconstructor holds one, with the
   * true pose and focal length held fixed) and `true-focal` (the default fit told the true focal
   * length as a known one, `knownFocalPx`, as EXIF would; pose free). Default: graphics, plus the
   * GAR rows the reconstructor can run.
   */
  methods?: BenchmarkMethod[];
  /** GAR rows: refinement preset. Default `default`. */
  garPreset: GarRefinePresetName;
  /** GAR rows: overrides of the preset (e.g. fewer steps in tests). */
  garRefine?: Partial<GarRefineConfig>;
  /** GAR rows: options of the turned-face landmark gate (api/landmark-source.ts). */
  landmarkGate?: LandmarkGateOptions;
  /**
   * oracle-landmarks row: Gaussian noise added to each true point, its standard deviation this
   * fraction of the true 68-point box's size (sqrt(w·h)), seeded per image. Default 0.
   */
  oracleNoise?: number;
}

/**
 * The oracle row's jaw weight against the inner points': the graphics path's former weight. The
 * path now discounts the detector's jaw (its least accurate points) to 0.25; true points need no
 * discount, and with it the row would measure the weight rather than what exact points give
 * (Cycles test set 2.17 mm at 0.6, 2.25 at 0.25).
 */
const ORACLE_CONTOUR_LANDMARK_WEIGHT = 0.6;

export const BENCHMARK_METHODS = ['graphics', 'gar-mean-init', 'gar-encoder-init', 'oracle-landmarks', 'true-pose', 'true-focal'] as const;
export type BenchmarkMethod = (typeof BENCHMARK_METHODS)[number];

export const DEFAULT_SYNTHETIC_BENCHMARK_CONFIG: Readonly<SyntheticBenchmarkConfig> = Object.freeze({
  count: 50,
  seed: 1,
  fit: {},
  scene: {},
  garPreset: 'default',
});

/** The renderer rows a reconstructor can run: graphics always, the GAR rows when it holds a GAR (encoder row: with an encoder). */
export function availableBenchmarkMethods(reconstructor: Reconstructor): BenchmarkMethod[] {
  const gar = reconstructor.garAvailable;
  return ['graphics', ...(gar.gar ? ['gar-mean-init' as const] : []), ...(gar.encoder ? ['gar-encoder-init' as const] : [])];
}

/** One photo of a benchmark with its truth, and a plain record of how it was made (for reports). */
export interface BenchmarkFace {
  image: RgbaImage;
  truth: BenchmarkTruth;
  /** Studio: the scene seed; a set: the generator's index (or the position in the set). */
  sceneSeed: number;
  record: Record<string, unknown>;
}

/** The photos of a benchmark, fetched one at a time (a set on disk is read lazily). */
export interface BenchmarkFaceSource {
  count: number;
  face(index: number): BenchmarkFace | Promise<BenchmarkFace>;
}

export interface SyntheticBenchmarkResult {
  rows: BenchmarkRow[];
  samples: Record<string, BenchmarkSample[]>;
  /** Every photo scored, in order. */
  faces: BenchmarkFace[];
  /** Studio mode: the renders (the same photos, with their scenes). */
  renders?: StudioRender[];
}

/**
 * Per-vertex error (mm) between a prediction and the truth over vertices [0, vertexCount),
 * after the least-squares similarity alignment of the prediction onto the truth over those
 * vertices (same topology: the correspondences are the vertex ids).
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
  return Array.from({ length: config.count }, (_, index) =>
    renderStudioPhoto(model, sampleStudioScene(model, benchmarkSceneSeed(config.seed, index), config.scene)),
  );
}

/** A studio render as a benchmark face. */
export function studioBenchmarkFace(render: StudioRender, sceneSeed: number): BenchmarkFace {
  const { truth, scene } = render;
  return {
    image: render.image,
    sceneSeed,
    record: studioSceneRecord(scene),
    truth: {
      verticesModel: truth.verticesModel,
      identity: scene.identity,
      expression: scene.expression,
      rotation: truth.rotation,
      translationMm: truth.translationMm,
      anglesDeg: truth.anglesDeg,
      focalPx: truth.camera.focalPx,
      principalPointPx: truth.camera.principalPointPx,
      landmarks2d: truth.landmarks2d,
    },
  };
}

/**
 * Run the synthetic benchmark on studio renders: render the photos (seeds from
 * benchmarkSceneSeed), then {@link runBenchmark}.
 */
export async function runSyntheticBenchmark(
  model: MorphableModel,
  reconstructor: Reconstructor | undefined,
  configOverrides: Partial<SyntheticBenchmarkConfig> = {},
  onImage?: (index: number, count: number, line: string) => void,
): Promise<SyntheticBenchmarkResult> {
  const config = { ...DEFAULT_SYNTHETIC_BENCHMARK_CONFIG, ...configOverrides };
  if (!Number.isInteger(config.count) || config.count < 1) throw new RangeError(`count must be a positive integer, got ${config.count}`);
  const renders: StudioRender[] = [];
  const source: BenchmarkFaceSource = {
    count: config.count,
    face: (index) => {
      const sceneSeed = benchmarkSceneSeed(config.seed, index);
      const render = renderStudioPhoto(model, sampleStudioScene(model, sceneSeed, config.scene));
      renders.push(render);
      return studioBenchmarkFace(render, sceneSeed);
    },
  };
  return { ...(await runBenchmark(model, reconstructor, source, config, onImage)), renders };
}

/**
 * Reconstruct each photo of `source` through `reconstructor` (detection included: a missed face
 * counts against the success rate; the oracle-landmarks row skips the detector) and summarise
 * the errors. Always includes a `mean-face` row (the model's neutral shape, no fitting).
 * `onImage` is called after each image with a one-line description.
 */
export async function runBenchmark(
  model: MorphableModel,
  reconstructor: Reconstructor | undefined,
  source: BenchmarkFaceSource,
  configOverrides: Partial<SyntheticBenchmarkConfig> = {},
  onImage?: (index: number, count: number, line: string) => void,
): Promise<SyntheticBenchmarkResult> {
  const config = { ...DEFAULT_SYNTHETIC_BENCHMARK_CONFIG, ...configOverrides };
  const narrow = model.narrowFaceVertexCount,
    full = model.vertexCount;
  const methods = reconstructor ? (config.methods ?? availableBenchmarkMethods(reconstructor)) : [];
  if (reconstructor) {
    const available: BenchmarkMethod[] = [...availableBenchmarkMethods(reconstructor), 'oracle-landmarks', 'true-pose', 'true-focal'];
    const missing = methods.find((m) => !available.includes(m));
    if (missing) throw new RangeError(`method ${missing} needs ${missing === 'gar-encoder-init' ? 'an encoder' : 'a GAR'} in the reconstructor`);
  }
  const samples: Record<string, BenchmarkSample[]> = { 'mean-face': [] };
  for (const method of methods) samples[method] = [];
  const faces: BenchmarkFace[] = [];
  for (let index = 0; index < source.count; index++) {
    const face = await source.face(index);
    faces.push(face);
    const { truth, sceneSeed } = face;
    const yawDeg = truth.anglesDeg[1];
    samples['mean-face'].push({
      index,
      sceneSeed,
      yawDeg,
      ok: true,
      ms: 0,
      vertices: model.neutral,
      vertexErrorsMm: alignedVertexErrorsMm(model.neutral, truth.verticesModel, narrow),
      faceErrorsMm: alignedVertexErrorsMm(model.neutral, truth.verticesModel, full),
    });
    let line = `image ${index + 1}/${source.count} yaw ${yawDeg.toFixed(0)}°; mean-face median ${imageMedianMm(samples['mean-face'][index]).toFixed(2)} mm`;
    for (const method of methods) {
      const started = performance.now();
      let sample: BenchmarkSample;
      try {
        const result = await reconstructor!.reconstruct(face.image, { maxFaces: 1, ...methodOptions(method, config, reconstructor!, model, face) });
        const fitted = result.faces[0];
        sample = {
          index,
          sceneSeed,
          yawDeg,
          ok: true,
          ms: performance.now() - started,
          vertices: fitted.vertices,
          identity: fitted.identity,
          focalPx: fitted.focalPx,
          fit: {
            vertices: fitted.vertices,
            rotation: fitted.rotation,
            translationMm: fitted.translationMm,
            focalPx: fitted.focalPx,
            principalPointPx: fitted.principalPointPx,
            landmarks2d: fitted.landmarks2d,
            detectedLandmarks2d: fitted.detectedLandmarks2d,
          },
          vertexErrorsMm: alignedVertexErrorsMm(fitted.vertices, truth.verticesModel, narrow),
          faceErrorsMm: alignedVertexErrorsMm(fitted.vertices, truth.verticesModel, full),
          landmarkNme: landmarkNme(fitted.landmarks2d, truth.landmarks2d),
        };
        line += `; ${method} median ${imageMedianMm(sample).toFixed(2)} mm, NME ${(100 * sample.landmarkNme!).toFixed(1)} %, ${sample.ms.toFixed(0)} ms`;
      } catch (error) {
        if (!(error instanceof FacegarError)) throw error;
        sample = { index, sceneSeed, yawDeg, ok: false, failure: error.code, ms: performance.now() - started };
        line += `; ${method} failed (${error.code})`;
      }
      samples[method].push(sample);
    }
    onImage?.(index, source.count, line);
  }
  return {
    rows: summarizeRows(
      samples,
      faces.map((f) => f.truth),
      model,
    ),
    samples,
    faces,
  };
}

/** The reconstruct options of one benchmark row for one photo. */
function methodOptions(
  method: BenchmarkMethod,
  config: SyntheticBenchmarkConfig,
  reconstructor: Reconstructor,
  model: MorphableModel,
  face: BenchmarkFace,
): ReconstructOptions {
  const gar = (start?: 'mean' | 'encoder'): ReconstructOptions => ({
    renderer: 'gar',
    garPreset: config.garPreset,
    garRefine: config.garRefine,
    ...(config.landmarkGate ? { landmarkGate: config.landmarkGate } : {}),
    ...(start ? { garStart: start } : {}),
  });
  // The diagnostic rows' fit: the GAR path when the reconstructor holds a GAR, else the graphics path.
  const defaultFit = (): ReconstructOptions => (reconstructor.garAvailable.gar ? gar() : { renderer: 'graphics', fit: config.fit });
  switch (method) {
    case 'graphics':
      return { renderer: 'graphics', fit: config.fit };
    case 'gar-mean-init':
      return gar('mean');
    case 'gar-encoder-init':
      return gar('encoder');
    case 'oracle-landmarks':
      return {
        renderer: 'graphics',
        fit: {
          contourLandmarkWeight: ORACLE_CONTOUR_LANDMARK_WEIGHT,
          identityPriorWeight: UNCENTRED_IDENTITY_PRIOR_WEIGHT,
          ...config.fit,
          photometricSteps: 0,
        },
        landmarks68: config.oracleNoise ? noisyLandmarks(face.truth.landmarks2d, config.oracleNoise, face.sceneSeed) : face.truth.landmarks2d,
        landmarkVertices: model.landmarkVertexIndices,
      };
    case 'true-pose': {
      const { truth } = face;
      const [cx, cy] = truth.principalPointPx;
      // The fits put the principal point at the image centre: a truth elsewhere cannot be held.
      if (Math.abs(cx - face.image.width / 2) > 0.5 || Math.abs(cy - face.image.height / 2) > 0.5)
        throw new RangeError(`true-pose needs the true principal point at the image centre, got (${cx}, ${cy})`);
      const fixedPose = { rotation: truth.rotation, translationMm: truth.translationMm, focalPx: truth.focalPx };
      return { ...defaultFit(), fixedPose };
    }
    case 'true-focal':
      // Does a wrong focal length bend the shape? The same fit, told the focal length as EXIF tells it.
      return { ...defaultFit(), knownFocalPx: face.truth.focalPx };
  }
}

/** [68*2] the points moved by Gaussian noise of `fraction` × their box size (sqrt(w·h)), drawn from `seed` (the image's). */
export function noisyLandmarks(landmarks2d: Float32Array, fraction: number, seed: number): Float32Array {
  const sigmaPx = fraction * landmarkBoxSize(landmarks2d);
  const random = new SeededRandom(hashSeed('oracle-noise', seed));
  return Float32Array.from(landmarks2d, (v) => v + sigmaPx * random.normal());
}
