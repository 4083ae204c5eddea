// Identity coefficients from a face-recognition embedding and FaceMesh's 3D mesh, by ridge regression
// fitted on renders of known geometry (scripts/fit-identity-regressor.ts): identity evidence
// beyond the 68 landmarks, as MICA takes shape from recognition features. Its per-mode error on
// held-out renders goes with it, so a fit can weigh it against its other sources.
import { invalidParameterError } from '../common/errors.ts';
import { mirrorImage, type RgbaImage } from '../common/image.ts';
import { alignFaceCrop } from '../detect/align-face-crop.ts';
import type { FaceEmbedder } from '../detect/face-embedding.ts';
import { fitRidge } from '../detect/mesh-landmark-map.ts';
import { applySimilarityTransform, estimateSimilarityTransform } from '../geometry/similarity-alignment.ts';

export const MESH_VALUE_COUNT = 468 * 3;
/** Side of the aligned crop (alignFaceCrop) the embedding is taken from; the embedder resizes it to its own input. */
export const EMBEDDING_CROP_PX = 128;
const MAGIC = 0x52494746; // "FGIR" little-endian
/**
 * Version 1: the crop's embedding is the feature; version 2: the mean of the crop's and its mirror
 * image's; version 3: as 2, with the embedding network run at FULL_EMBEDDING_INPUT_PX.
 */
const VERSION_CROP = 1;
const VERSION_MIRROR_AVERAGE = 2;
const VERSION_MIRROR_AVERAGE_FULL_SIZE = 3;
/**
 * FaceRes's own training size. Run at 224² instead of facegar's usual 112², its embedding finds
 * a held-out LFW photo's other photo of the same person 86 % of the time instead of 51 %
 * (scripts/experiments/embedding-variants.ts; docs/tuning.md).
 */
export const FULL_EMBEDDING_INPUT_PX = 224;
const HEADER_BYTES = 16;
/** Coefficients beyond this many prior standard deviations are not an identity the model means. */
const MAX_ABS_COEFFICIENT = 5;

export interface IdentityRegressor {
  /** Length of the embedding it was fitted on (1024 for FaceRes). */
  embeddingDimension: number;
  /** Identity modes it predicts. */
  identityCount: number;
  /** [468 × 3] the mean FaceMesh mesh after similarity alignment: each mesh is aligned to it and the residual is its feature. */
  referenceMesh: Float32Array;
  /** [F] per-feature mean and scale (features are standardised before the weights). */
  featureMean: Float32Array;
  featureScale: Float32Array;
  /** [(F + 1) × K] row-major: standardised features, then 1 → identity coefficients. */
  weights: Float32Array;
  /** [K] root-mean-square error per mode on renders it was not fitted on (prior std units). */
  errorStd: Float32Array;
  /** Its embedding feature is the mean of the crop's and the mirrored crop's embeddings (less of the embedding's noise); default false. */
  mirrorAverage?: boolean;
  /** Side the embedding network runs at (its spec's inputSize); absent: the network's default (112 for FaceRes). Only FULL_EMBEDDING_INPUT_PX is stored besides. */
  embeddingInputPx?: number;
}

/** A decoded regressor with the embedding network it reads. */
export interface LoadedIdentityRegressor {
  regressor: IdentityRegressor;
  embedder: FaceEmbedder;
}

/** The embedding the regressor reads: of the crop aligned by the detector's 68 points, or (`mirrorAverage`) its mean with the mirrored crop's. */
export function faceEmbedding(embedder: FaceEmbedder, image: RgbaImage, landmarks68: Float32Array, mirrorAverage = false): Float32Array {
  const crop = alignFaceCrop(image, landmarks68, EMBEDDING_CROP_PX).crop;
  if (!mirrorAverage) return embedder.embedImages([crop])[0];
  const [plain, mirrored] = embedder.embedImages([crop, mirrorImage(crop)]);
  return plain.map((value, i) => (value + mirrored[i]) / 2);
}

/** One face's identity estimate with the regressor's per-mode error, from the photo, the detector's 68 points and FaceMesh's mesh. */
export function estimateIdentity(
  loaded: LoadedIdentityRegressor,
  image: RgbaImage,
  landmarks68: Float32Array,
  mesh468: ArrayLike<number>,
): { mean: Float32Array; errorStd: Float32Array } {
  const embedding = faceEmbedding(loaded.embedder, image, landmarks68, loaded.regressor.mirrorAverage);
  return { mean: regressIdentity(loaded.regressor, embedding, mesh468), errorStd: loaded.regressor.errorStd };
}

export function featureCount(embeddingDimension: number): number {
  return embeddingDimension + MESH_VALUE_COUNT;
}

/** The mesh aligned to the reference by the least-squares similarity, minus the reference: pose and size removed, shape left. */
export function meshShapeResidual(mesh468: ArrayLike<number>, referenceMesh: ArrayLike<number>): Float32Array {
  if (mesh468.length !== MESH_VALUE_COUNT) throw invalidParameterError('mesh468', `${MESH_VALUE_COUNT} numbers`, mesh468.length);
  const aligned = applySimilarityTransform(mesh468, estimateSimilarityTransform(mesh468, referenceMesh));
  return Float32Array.from(aligned, (value, i) => value - referenceMesh[i]);
}

/** Raw features of one face: the embedding, then the mesh's shape residual. */
export function identityFeatures(embedding: ArrayLike<number>, mesh468: ArrayLike<number>, referenceMesh: ArrayLike<number>): Float32Array {
  const out = new Float32Array(embedding.length + MESH_VALUE_COUNT);
  out.set(Array.from(embedding), 0);
  out.set(meshShapeResidual(mesh468, referenceMesh), embedding.length);
  return out;
}

/** Identity coefficients [K] for one face, each clamped to ±MAX_ABS_COEFFICIENT. */
export function regressIdentity(regressor: IdentityRegressor, embedding: ArrayLike<number>, mesh468: ArrayLike<number>): Float32Array {
  if (embedding.length !== regressor.embeddingDimension) throw invalidParameterError('embedding', `${regressor.embeddingDimension} numbers`, embedding.length);
  const features = identityFeatures(embedding, mesh468, regressor.referenceMesh);
  const K = regressor.identityCount,
    F = features.length;
  const out = new Float32Array(K);
  for (let k = 0; k < K; k++) out[k] = regressor.weights[F * K + k];
  for (let i = 0; i < F; i++) {
    const x = (features[i] - regressor.featureMean[i]) / regressor.featureScale[i];
    if (x === 0) continue;
    const row = i * K;
    for (let k = 0; k < K; k++) out[k] += x * regressor.weights[row + k];
  }
  return out.map((value) => Math.max(-MAX_ABS_COEFFICIENT, Math.min(MAX_ABS_COEFFICIENT, value)));
}

/**
 * Photos without 3D truth that must map to one identity: each row is one photo's raw features
 * minus the mean of its person's photos (same-person photos differ in pose, expression, light and
 * camera, not in identity). The fit adds `weight` × Σ‖difference · W‖² to its loss.
 */
export interface IdentityInvariance {
  differences: Float32Array;
  rows: number;
  weight: number;
}

/**
 * Fit the regressor: `features` [N × F] raw (identityFeatures), `identities` [N × K]; standardise,
 * then ridge with weight `lambda` (the constant unpenalised), with the `invariance` term when given.
 * `errorStd` is left at 1 for the caller to measure on held-out faces.
 */
export function fitIdentityRegressor(
  features: Float32Array,
  identities: Float32Array,
  rows: number,
  embeddingDimension: number,
  referenceMesh: Float32Array,
  lambda: number,
  invariance?: IdentityInvariance,
): IdentityRegressor {
  const F = featureCount(embeddingDimension);
  const K = identities.length / rows;
  if (features.length !== rows * F || !Number.isInteger(K)) throw invalidParameterError('features', `${rows} rows of ${F}`, features.length);
  const featureMean = new Float32Array(F),
    featureScale = new Float32Array(F);
  for (let i = 0; i < F; i++) {
    let sum = 0,
      sumSquares = 0;
    for (let n = 0; n < rows; n++) {
      const value = features[n * F + i];
      sum += value;
      sumSquares += value * value;
    }
    const mean = sum / rows;
    featureMean[i] = mean;
    featureScale[i] = Math.sqrt(Math.max(sumSquares / rows - mean * mean, 0)) + 1e-6;
  }
  // The invariance term is least squares too: rows √weight · difference / scale with target 0 and no constant.
  const extraRows = invariance ? invariance.rows : 0;
  if (invariance && invariance.differences.length !== extraRows * F)
    throw invalidParameterError('invariance.differences', `${extraRows} rows of ${F}`, invariance.differences.length);
  if (invariance && !(invariance.weight >= 0)) throw invalidParameterError('invariance.weight', 'a number ≥ 0', invariance.weight);
  const standardised = new Float32Array((rows + extraRows) * (F + 1));
  for (let n = 0; n < rows; n++) {
    for (let i = 0; i < F; i++) standardised[n * (F + 1) + i] = (features[n * F + i] - featureMean[i]) / featureScale[i];
    standardised[n * (F + 1) + F] = 1;
  }
  const rootWeight = Math.sqrt(invariance?.weight ?? 0);
  for (let n = 0; n < extraRows; n++)
    for (let i = 0; i < F; i++) standardised[(rows + n) * (F + 1) + i] = (rootWeight * invariance!.differences[n * F + i]) / featureScale[i];
  const targets = new Float32Array((rows + extraRows) * K);
  targets.set(identities);
  const weights = fitRidge(standardised, targets, rows + extraRows, lambda, F);
  return { embeddingDimension, identityCount: K, referenceMesh, featureMean, featureScale, weights, errorStd: new Float32Array(K).fill(1) };
}

/**
 * The mean of similarity-aligned meshes ([N × 1404] row-major), found by aligning to the current
 * mean a few times (generalised Procrustes), at the first mesh's scale.
 */
export function meanAlignedMesh(meshes: Float32Array, rows: number, rounds = 3): Float32Array {
  let reference = meshes.slice(0, MESH_VALUE_COUNT);
  for (let round = 0; round < rounds; round++) {
    const sum = new Float64Array(MESH_VALUE_COUNT);
    for (let n = 0; n < rows; n++) {
      const mesh = meshes.subarray(n * MESH_VALUE_COUNT, (n + 1) * MESH_VALUE_COUNT);
      const aligned = applySimilarityTransform(mesh, estimateSimilarityTransform(mesh, reference));
      for (let i = 0; i < MESH_VALUE_COUNT; i++) sum[i] += aligned[i];
    }
    reference = Float32Array.from(sum, (value) => value / rows);
  }
  return reference;
}

/**
 * Two Gaussian estimates of the identity with independent errors → one: per mode, the
 * precision-weighted mean and the summed precision.
 */
export function combineIdentityEstimates(
  a: { mean: Float32Array; precision: Float32Array },
  b: { mean: Float32Array; precision: Float32Array },
): { mean: Float32Array; precision: Float32Array } {
  if (a.mean.length !== b.mean.length) throw invalidParameterError('b.mean', `${a.mean.length} modes`, b.mean.length);
  const precision = Float32Array.from(a.precision, (p, k) => p + b.precision[k]);
  const mean = Float32Array.from(a.mean, (m, k) => (a.precision[k] * m + b.precision[k] * b.mean[k]) / precision[k]);
  return { mean, precision };
}

/** The file version a regressor is written as (1 crop, 2 mirror-average, 3 mirror-average at FULL_EMBEDDING_INPUT_PX); throws for a combination no version holds. */
export function identityRegressorVersion(regressor: IdentityRegressor): number {
  if (regressor.embeddingInputPx === FULL_EMBEDDING_INPUT_PX) {
    if (!regressor.mirrorAverage)
      throw invalidParameterError('identity regressor', `a mirror-average embedding at ${FULL_EMBEDDING_INPUT_PX}²`, 'a single crop');
    return VERSION_MIRROR_AVERAGE_FULL_SIZE;
  }
  if (regressor.embeddingInputPx !== undefined)
    throw invalidParameterError('embeddingInputPx', `${FULL_EMBEDDING_INPUT_PX} or absent`, regressor.embeddingInputPx);
  return regressor.mirrorAverage ? VERSION_MIRROR_AVERAGE : VERSION_CROP;
}

/** Bytes of a regressor: a 16-byte header (magic, version: 1 crop, 2 mirror-average, 3 mirror-average at 224², embedding length, modes), then float32 arrays. */
export function encodeIdentityRegressor(regressor: IdentityRegressor): Uint8Array {
  const arrays = [regressor.referenceMesh, regressor.featureMean, regressor.featureScale, regressor.weights, regressor.errorStd];
  const floats = arrays.reduce((sum, a) => sum + a.length, 0);
  const bytes = new Uint8Array(HEADER_BYTES + 4 * floats);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, identityRegressorVersion(regressor), true);
  view.setUint32(8, regressor.embeddingDimension, true);
  view.setUint32(12, regressor.identityCount, true);
  let offset = HEADER_BYTES;
  for (const array of arrays)
    for (const value of array) {
      view.setFloat32(offset, value, true);
      offset += 4;
    }
  return bytes;
}

/** Check and read a regressor file (size from its header, finite values, positive scales and errors). */
export function decodeIdentityRegressor(bytes: Uint8Array, source = 'identity regressor'): IdentityRegressor {
  if (bytes.byteLength < HEADER_BYTES) throw invalidParameterError(source, `at least ${HEADER_BYTES} bytes`, `${bytes.byteLength} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (view.getUint32(0, true) !== MAGIC || ![VERSION_CROP, VERSION_MIRROR_AVERAGE, VERSION_MIRROR_AVERAGE_FULL_SIZE].includes(version))
    throw invalidParameterError(source, `a facegar identity regressor, version ${VERSION_CROP}–${VERSION_MIRROR_AVERAGE_FULL_SIZE}`, 'another file');
  const embeddingDimension = view.getUint32(8, true),
    identityCount = view.getUint32(12, true);
  if (embeddingDimension < 1 || embeddingDimension > 4096 || identityCount < 1 || identityCount > 1000)
    throw invalidParameterError(source, 'embedding length 1–4096 and 1–1000 modes', `${embeddingDimension} and ${identityCount}`);
  const F = featureCount(embeddingDimension);
  const lengths = [MESH_VALUE_COUNT, F, F, (F + 1) * identityCount, identityCount];
  const expected = HEADER_BYTES + 4 * lengths.reduce((a, b) => a + b, 0);
  if (bytes.byteLength !== expected) throw invalidParameterError(source, `${expected} bytes`, `${bytes.byteLength} bytes`);
  let offset = HEADER_BYTES;
  const [referenceMesh, featureMean, featureScale, weights, errorStd] = lengths.map((length) => {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++, offset += 4) {
      const value = view.getFloat32(offset, true);
      if (!Number.isFinite(value) || Math.abs(value) > 1e6) throw invalidParameterError(source, 'finite values below 1e6 in magnitude', value);
      out[i] = value;
    }
    return out;
  });
  if (!featureScale.every((s) => s > 0) || !errorStd.every((e) => e > 0)) throw invalidParameterError(source, 'positive scales and errors', 'a value ≤ 0');
  return {
    embeddingDimension,
    identityCount,
    referenceMesh,
    featureMean,
    featureScale,
    weights,
    errorStd,
    mirrorAverage: version !== VERSION_CROP,
    ...(version === VERSION_MIRROR_AVERAGE_FULL_SIZE ? { embeddingInputPx: FULL_EMBEDDING_INPUT_PX } : {}),
  };
}

/** `base` (default the model's own N(0, 1)) joined by precision with a regressor's estimate, whose precision is one over its squared error. */
export function joinRegressedIdentity(
  estimate: { mean: Float32Array; errorStd: Float32Array },
  base?: { mean: Float32Array; precision: Float32Array },
): { mean: Float32Array; precision: Float32Array } {
  const count = estimate.mean.length;
  const prior = base ?? { mean: new Float32Array(count), precision: new Float32Array(count).fill(1) };
  return combineIdentityEstimates(prior, { mean: estimate.mean, precision: estimate.errorStd.map((e) => 1 / (e * e)) });
}
