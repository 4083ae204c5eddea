// How good is a GAR generator? Measures a reader can check against the images:
// - KID: how far G's images lie from held-back real crops, in the identity-feature space of a
//   face-recognition network (FaceEmbedder); the real-vs-real KID of two disjoint halves is the floor.
// - Landmark agreement: FaceMesh's landmarks in G's image vs the model landmarks of the geometry
//   whose normal map G was given (error / inter-ocular distance).
// - Geometry swap (same latent w, geometry A → B = A's identity shape in another pose and
//   expression): do the landmarks follow B, and does the face keep its identity features (same w,
//   other pose) better than another latent w' gives on the same geometry?
// - Normal agreement (when a normal estimator is given): angle between the normals it estimates
//   from G's image and the normal map G was given, on the face mask.
import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';
import type { RgbaImage } from '../common/image.ts';
import type { FaceEmbedder } from '../detect/face-embedding.ts';
import type { FaceMesh } from '../detect/facemesh.ts';
import type { Generator } from '../gar/generator.ts';
import type { GeometrySampler, SampledGeometry } from '../gar/geometry-sampler.ts';
import { meanNormalAngleDeg, type NormalEstimator } from '../gar/normal-estimator.ts';
import { SeededRandom } from '../common/seeded-random.ts';
import { cosineSimilarity } from '../detect/face-embedding.ts';
import {
  ALL_LANDMARKS,
  garImagesToRgba,
  kernelInceptionDistance,
  landmarkError,
  landmarksInAlignedCrop,
  mean,
  rgbaToUnitTensor,
  type CropLandmarks,
} from './gar-quality-measures.ts';

export interface GarQualityConfig {
  /** Generated images for KID and landmark agreement (random geometry, random z). */
  count: number;
  /** Geometry-swap triplets: (w, A), (w, B), (w', A). */
  swaps: number;
  /** KID subsets and samples per subset (capped by the set sizes). */
  kidSubsets: number;
  kidSubsetSize: number;
  /** Images per generator / embedder call. */
  batchSize: number;
  /** Seed of geometries and latents: the same seed shows every generator the same inputs. */
  seed: number;
  /** FaceMesh re-crops around its previous mesh. */
  refineIterations: number;
}

export const DEFAULT_GAR_QUALITY_CONFIG: Readonly<GarQualityConfig> = Object.freeze({
  count: 200,
  swaps: 32,
  kidSubsets: 100,
  kidSubsetSize: 100,
  batchSize: 16,
  seed: 0,
  refineIterations: 2,
});

/** Defaults filled in and every field checked (UsageError naming the field otherwise). */
export function validateGarQualityConfig(config: Partial<GarQualityConfig>): GarQualityConfig {
  const out = { ...DEFAULT_GAR_QUALITY_CONFIG, ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) } as GarQualityConfig;
  const minimum: Record<keyof GarQualityConfig, number> = { count: 4, swaps: 0, kidSubsets: 1, kidSubsetSize: 2, batchSize: 1, seed: 0, refineIterations: 0 };
  for (const [key, min] of Object.entries(minimum) as [keyof GarQualityConfig, number][]) {
    if (!Number.isInteger(out[key]) || out[key] < min) throw invalidParameterError(key, `an integer ≥ ${min}`, out[key]);
  }
  return out;
}

/** The frozen networks that judge the images. */
export interface GarQualityJudges {
  embedder: FaceEmbedder;
  faceMesh: FaceMesh;
  /** Optional: adds normal agreement (its resolution must be the GAR's). */
  normalEstimator?: NormalEstimator;
}

/** Landmark agreement of a set of crops with reference landmarks. */
export interface LandmarkAgreement {
  /** Mean error / inter-ocular distance over brows, eyes, nose, mouth (iBUG 17–67). */
  nmeInner: number;
  /** The same over all 68 points (the jaw adds the silhouette-vs-contour disagreement). */
  nmeAll: number;
  /** Mean FaceMesh face flag (0…1): how face-like FaceMesh finds the images. */
  meanFaceScore: number;
  /** Share of images with a face flag ≥ 0.25. */
  faceRate: number;
}

/** The swap measures (see the file comment); all over `swaps` triplets (w, A), (w, B), (w', A), B = A's identity in another pose and expression. */
export interface GeometrySwapQuality {
  /** Share of (w, B) renders whose landmarks lie closer to B's model landmarks than to A's. */
  followsGeometryRate: number;
  /** Mean NME of (w, B)'s landmarks against B's and against A's model landmarks. */
  nmeToOwnGeometry: number;
  nmeToOtherGeometry: number;
  /** Mean identity-feature cosine of (w, A) with (w, B): same latent, other geometry. */
  cosineSameLatent: number;
  /** Mean identity-feature cosine of (w, A) with (w', A): other latent, same geometry. */
  cosineSameGeometry: number;
  /** Share of triplets where the same latent is the closer of the two (the latent keeps the face's look). */
  latentKeepsIdentityRate: number;
  /** Mean NME between the landmarks of (w, A) and (w', A): how much the latent moves the shape (0 = not at all). */
  latentLandmarkShift: number;
}

export interface GeneratorQuality {
  kid: number;
  kidStd: number;
  landmarks: LandmarkAgreement;
  swap?: GeometrySwapQuality;
  /** Mean angle between estimated and given normals, degrees (with a normal estimator). */
  normalAngleDeg?: number;
  /** Wall time per measure, ms (generation included in each). */
  timesMs: Record<string, number>;
}

export interface RealQuality {
  /** KID between two disjoint halves of the real set: the floor a generator cannot beat. */
  kid: number;
  kidStd: number;
  /** FaceMesh on the real crops vs their truth landmarks (when the dataset stores them): the detector's own floor. */
  landmarks?: LandmarkAgreement;
  timesMs: Record<string, number>;
}

/**
 * Unit embeddings times √d, so that KID's kernel (x·y/d + 1)³ becomes (cos + 1)³: the same regime
 * as Inception features in StyleGAN's KID (x·y/d of order 1), where unit vectors would leave the
 * kernel ≈ 1 + 3·cos/d and the distance ~d times smaller.
 */
export function cosineScaled(features: Float32Array[]): Float32Array[] {
  return features.map((v) => v.map((x) => x * Math.sqrt(v.length)));
}

/** Identity features of RGBA crops, `batchSize` at a time. */
export function embedCrops(embedder: FaceEmbedder, crops: RgbaImage[], batchSize: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < crops.length; i += batchSize) out.push(...embedder.embedImages(crops.slice(i, i + batchSize)));
  return out;
}

/** FaceMesh landmarks of crops against references: the agreement numbers. */
export async function landmarkAgreement(
  faceMesh: FaceMesh,
  crops: RgbaImage[],
  references: Float32Array[],
  refineIterations: number,
): Promise<{ agreement: LandmarkAgreement; found: CropLandmarks[] }> {
  const found: CropLandmarks[] = [];
  for (const crop of crops) found.push(await landmarksInAlignedCrop(faceMesh, crop, refineIterations));
  const agreement: LandmarkAgreement = {
    nmeInner: mean(found.map((f, i) => landmarkError(f.landmarks68, references[i]))),
    nmeAll: mean(found.map((f, i) => landmarkError(f.landmarks68, references[i], ALL_LANDMARKS))),
    meanFaceScore: mean(found.map((f) => f.score)),
    faceRate: found.filter((f) => f.score >= 0.25).length / Math.max(1, found.length),
  };
  return { agreement, found };
}

/**
 * The real set's own numbers: KID of its two halves (first half vs second half, so the set should
 * be in random order) and, when `truthLandmarks` are given ([68*2] per crop, crop pixels),
 * FaceMesh's agreement with them. `realFeatures` from embedCrops.
 */
export async function measureRealSet(
  realFeatures: Float32Array[],
  judges: GarQualityJudges,
  config: Partial<GarQualityConfig> = {},
  real?: { crops: RgbaImage[]; truthLandmarks: Float32Array[] },
): Promise<RealQuality> {
  const settings = validateGarQualityConfig(config);
  const timesMs: Record<string, number> = {};
  let started = Date.now();
  const half = Math.floor(realFeatures.length / 2);
  const { kid, std } = kernelInceptionDistance(cosineScaled(realFeatures.slice(0, half)), cosineScaled(realFeatures.slice(half, 2 * half)), {
    subsets: settings.kidSubsets,
    subsetSize: settings.kidSubsetSize,
    seed: settings.seed,
  });
  timesMs.kid = Date.now() - started;
  let landmarks: LandmarkAgreement | undefined;
  if (real) {
    started = Date.now();
    const n = Math.min(settings.count, real.crops.length);
    landmarks = (await landmarkAgreement(judges.faceMesh, real.crops.slice(0, n), real.truthLandmarks.slice(0, n), settings.refineIterations)).agreement;
    timesMs.landmarks = Date.now() - started;
  }
  return { kid, kidStd: std, ...(landmarks ? { landmarks } : {}), timesMs };
}

/**
 * Every measure for one generator against the real set's features. Geometries come from
 * `sampler` and latents from N(0, 1), both from `config.seed`, so two generators measured with the
 * same seed see the same inputs. No truncation, noise off (as `facegar sample`).
 */
export async function measureGenerator(
  generator: Generator,
  sampler: GeometrySampler,
  realFeatures: Float32Array[],
  judges: GarQualityJudges,
  config: Partial<GarQualityConfig> = {},
): Promise<GeneratorQuality> {
  const settings = validateGarQualityConfig(config);
  if (sampler.config.resolution !== generator.config.resolution) {
    throw invalidParameterError('sampler', `a sampler at the generator's resolution ${generator.config.resolution}`, sampler.config.resolution);
  }
  const random = new SeededRandom(settings.seed);
  const timesMs: Record<string, number> = {};

  // KID and landmark agreement on one set of renders.
  let started = Date.now();
  const geometries: SampledGeometry[] = [];
  const crops: RgbaImage[] = [];
  let normalAngleSum = 0;
  for (let i = 0; i < settings.count; i += settings.batchSize) {
    const n = Math.min(settings.batchSize, settings.count - i);
    const batch = Array.from({ length: n }, () => sampler.sample(random));
    const z = random.normals(n * generator.config.zDim);
    const images = render(generator, sampler, batch, z);
    crops.push(...garImagesToRgba(images));
    geometries.push(...batch);
    if (judges.normalEstimator) normalAngleSum += n * normalAngle(judges.normalEstimator, sampler, images, batch);
    images.dispose();
  }
  const generateMs = Date.now() - started;
  started = Date.now();
  const features = embedCrops(judges.embedder, crops, settings.batchSize);
  const { kid, std } = kernelInceptionDistance(cosineScaled(features), cosineScaled(realFeatures), {
    subsets: settings.kidSubsets,
    subsetSize: settings.kidSubsetSize,
    seed: settings.seed,
  });
  timesMs.kid = generateMs + Date.now() - started;
  started = Date.now();
  const { agreement } = await landmarkAgreement(
    judges.faceMesh,
    crops,
    geometries.map((g) => g.landmarks2d),
    settings.refineIterations,
  );
  timesMs.landmarks = Date.now() - started;
  const result: GeneratorQuality = { kid, kidStd: std, landmarks: agreement, timesMs };
  if (judges.normalEstimator) result.normalAngleDeg = normalAngleSum / settings.count;
  if (settings.swaps > 0) {
    started = Date.now();
    result.swap = await geometrySwap(generator, sampler, judges, settings, random);
    timesMs.swap = Date.now() - started;
  }
  return result;
}

/** Renders for given geometries and latents z [n * zDim]: [n, R, R, 3] in −1…1. */
function render(generator: Generator, sampler: GeometrySampler, geometries: SampledGeometry[], z: Float32Array): tf.Tensor4D {
  return tf.tidy(() => generator.generate(sampler.renderNormalMaps(geometries), tf.tensor2d(z, [geometries.length, generator.config.zDim])));
}

function normalAngle(estimator: NormalEstimator, sampler: GeometrySampler, images: tf.Tensor4D, geometries: SampledGeometry[]): number {
  const normals = sampler.renderNormalMaps(geometries);
  const predicted = tf.tidy(() => estimator.predict(images));
  try {
    return meanNormalAngleDeg(predicted, normals);
  } finally {
    tf.dispose([normals, predicted]);
  }
}

/** `settings.swaps` triplets (w, A), (w, B), (w', A): see GeometrySwapQuality. */
async function geometrySwap(
  generator: Generator,
  sampler: GeometrySampler,
  judges: GarQualityJudges,
  settings: GarQualityConfig,
  random: SeededRandom,
): Promise<GeometrySwapQuality> {
  const zDim = generator.config.zDim;
  const follows: boolean[] = [],
    own: number[] = [],
    other: number[] = [],
    sameLatent: number[] = [],
    sameGeometry: number[] = [],
    shift: number[] = [];
  const perBatch = Math.max(1, Math.floor(settings.batchSize / 3));
  for (let i = 0; i < settings.swaps; i += perBatch) {
    const n = Math.min(perBatch, settings.swaps - i);
    const a = Array.from({ length: n }, () => sampler.sample(random));
    // B: A's identity coefficients in another pose and expression (the pairs the identity loss pulls together).
    const b: SampledGeometry[] = a.map((g) => {
      const other = sampler.sample(random);
      return { identity: g.identity, expression: other.expression, eulerRad: other.eulerRad, ...sampler.frame(g.identity, other.expression, other.eulerRad) };
    });
    const w = random.normals(n * zDim),
      w2 = random.normals(n * zDim);
    const z = new Float32Array(3 * n * zDim);
    z.set(w, 0);
    z.set(w, n * zDim);
    z.set(w2, 2 * n * zDim);
    const images = render(generator, sampler, [...a, ...b, ...a], z);
    const crops = garImagesToRgba(images);
    images.dispose();
    const features = embedCrops(judges.embedder, crops, settings.batchSize);
    for (let k = 0; k < n; k++) {
      const [wa, wb, w2a] = [crops[k], crops[n + k], crops[2 * n + k]];
      const [lwa, lwb, lw2a] = [
        await landmarksInAlignedCrop(judges.faceMesh, wa, settings.refineIterations),
        await landmarksInAlignedCrop(judges.faceMesh, wb, settings.refineIterations),
        await landmarksInAlignedCrop(judges.faceMesh, w2a, settings.refineIterations),
      ];
      const toOwn = landmarkError(lwb.landmarks68, b[k].landmarks2d),
        toOther = landmarkError(lwb.landmarks68, a[k].landmarks2d);
      own.push(toOwn);
      other.push(toOther);
      follows.push(toOwn < toOther);
      const cosLatent = cosineSimilarity(features[k], features[n + k]),
        cosGeometry = cosineSimilarity(features[k], features[2 * n + k]);
      sameLatent.push(cosLatent);
      sameGeometry.push(cosGeometry);
      shift.push(landmarkError(lw2a.landmarks68, lwa.landmarks68));
    }
  }
  return {
    followsGeometryRate: follows.filter(Boolean).length / follows.length,
    nmeToOwnGeometry: mean(own),
    nmeToOtherGeometry: mean(other),
    cosineSameLatent: mean(sameLatent),
    cosineSameGeometry: mean(sameGeometry),
    latentKeepsIdentityRate: sameLatent.filter((c, k) => c > sameGeometry[k]).length / sameLatent.length,
    latentLandmarkShift: mean(shift),
  };
}

/** One row of the report table. */
export interface GarQualityRow {
  name: string;
  quality: GeneratorQuality | RealQuality;
}

const formatNumber = (value: number | undefined, digits: number) => (value === undefined || Number.isNaN(value) ? '—' : value.toFixed(digits));

/** The report as a fixed-width text table (one column per row: trained, initial, real floor). */
export function formatGarQualityTable(rows: GarQualityRow[]): string {
  const lines: [string, (q: GeneratorQuality | RealQuality) => string][] = [
    ['KID ×10³ (identity features)', (q) => `${formatNumber(q.kid * 1e3, 1)} ± ${formatNumber(q.kidStd * 1e3, 1)}`],
    ['landmark NME, inner 51', (q) => formatNumber(q.landmarks?.nmeInner, 3)],
    ['landmark NME, all 68', (q) => formatNumber(q.landmarks?.nmeAll, 3)],
    ['FaceMesh face score', (q) => formatNumber(q.landmarks?.meanFaceScore, 2)],
    ['swap: landmarks follow geometry', (q) => ('swap' in q && q.swap ? `${formatNumber(q.swap.followsGeometryRate * 100, 0)}%` : '—')],
    [
      'swap: NME to own / other geometry',
      (q) => ('swap' in q && q.swap ? `${formatNumber(q.swap.nmeToOwnGeometry, 3)} / ${formatNumber(q.swap.nmeToOtherGeometry, 3)}` : '—'),
    ],
    [
      'swap: cos same w / same geometry',
      (q) => ('swap' in q && q.swap ? `${formatNumber(q.swap.cosineSameLatent, 3)} / ${formatNumber(q.swap.cosineSameGeometry, 3)}` : '—'),
    ],
    ['swap: latent keeps identity', (q) => ('swap' in q && q.swap ? `${formatNumber(q.swap.latentKeepsIdentityRate * 100, 0)}%` : '—')],
    ['latent moves landmarks (NME)', (q) => ('swap' in q && q.swap ? formatNumber(q.swap.latentLandmarkShift, 3) : '—')],
    ['normal angle, degrees', (q) => ('normalAngleDeg' in q ? formatNumber(q.normalAngleDeg, 1) : '—')],
  ];
  const width = 36,
    column = 22;
  const out = [`${'measure'.padEnd(width)}${rows.map((r) => r.name.padStart(column)).join('')}`];
  for (const [label, cell] of lines) out.push(`${label.padEnd(width)}${rows.map((r) => cell(r.quality).padStart(column)).join('')}`);
  for (const row of rows)
    out.push(
      `time, ${row.name}: ${Object.entries(row.quality.timesMs)
        .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
        .join(', ')}`,
    );
  return out.join('\n') + '\n';
}
