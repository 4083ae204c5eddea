// Identity-feature contrastive loss of GAR training (the paper's "identity features equal for the
// same latent and identity coefficients"): renders that share w and the identity coefficients
// but differ in pose or expression should look like one person to a face-recognition network,
// and renders of different (w, identity) should not collapse onto one face.
import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';
import type { FaceEmbedder } from '../detect/face-embedding.ts';
import type { IdentityConsistencyLoss } from './geometry-consistency.ts';
import type { GeometrySampler, SampledGeometry } from './geometry-sampler.ts';
import type { SeededRandom } from '../common/seeded-random.ts';

export interface IdentityConsistencyConfig {
  /** Different-identity pairs are pushed only while their cosine exceeds this. */
  margin: number;
  /** Weight of the push term against the pull term. */
  negativeWeight: number;
  /**
   * The training hook embeds at most this many renders (the first ones: whole pairs). FaceRes's
   * gradients cost about 60 MB of wasm memory per image, and at batch 32, on the steps that also
   * run the landmark loss, the whole batch passed wasm's 4 GB and aborted. The loss is a mean over
   * pairs, so the cap only makes it noisier; the PyTorch port (scripts/gpu) embeds the whole batch.
   */
  maxImages: number;
}

/**
 * Margin 0.5: FaceRes cosines of two different people on the example photos average ~0.35
 * (same person, mirrored or shifted: ~0.9), so 0.5 asks no more separation than real faces have.
 */
export const DEFAULT_IDENTITY_CONSISTENCY_CONFIG: Readonly<IdentityConsistencyConfig> = Object.freeze({ margin: 0.5, negativeWeight: 1, maxImages: 8 });

export function validateIdentityConsistencyConfig(config: Partial<IdentityConsistencyConfig>): IdentityConsistencyConfig {
  const out = {
    ...DEFAULT_IDENTITY_CONSISTENCY_CONFIG,
    ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)),
  } as IdentityConsistencyConfig;
  if (!(out.margin >= -1 && out.margin <= 1)) throw invalidParameterError('margin', 'a number between -1 and 1', out.margin);
  if (!(out.negativeWeight >= 0) || !Number.isFinite(out.negativeWeight))
    throw invalidParameterError('negativeWeight', 'a finite number ≥ 0', out.negativeWeight);
  if (!Number.isInteger(out.maxImages) || out.maxImages < 2 || out.maxImages % 2 !== 0)
    throw invalidParameterError('maxImages', 'an even integer ≥ 2 (whole pairs)', out.maxImages);
  return out;
}

/**
 * Cosine margin loss on identity embeddings. images [N, R, R, 3] float32 in −1…1 (the GAR's
 * range), aligned crops; `groups` [N]: samples with the same group id share w and identity
 * coefficients. Loss = mean over same-group pairs of (1 − cos) + negativeWeight · mean over
 * different-group pairs of max(0, cos − margin); a term with no pairs is 0. Differentiable with
 * respect to `images`; ≥ 0, and 0 when every pair is where it should be.
 */
export function identityContrastiveLoss(
  embedder: FaceEmbedder,
  images: tf.Tensor4D,
  groups: ArrayLike<number>,
  config: Partial<IdentityConsistencyConfig> = {},
): tf.Scalar {
  const settings = validateIdentityConsistencyConfig(config);
  const n = images.shape[0];
  if (groups.length !== n) throw invalidParameterError('groups', `one group id per image (${n})`, groups.length);
  const same = new Float32Array(n * n),
    different = new Float32Array(n * n);
  let sameCount = 0,
    differentCount = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (groups[i] === groups[j]) {
        same[i * n + j] = 1;
        sameCount++;
      } else {
        different[i * n + j] = 1;
        differentCount++;
      }
    }
  }
  return tf.tidy(() => {
    const embeddings = embedder.embed(tf.clipByValue(tf.add(tf.mul(images, 0.5), 0.5), 0, 1) as tf.Tensor4D);
    const cosine = tf.matMul(embeddings, embeddings, false, true); // [N, N]
    let loss = tf.scalar(0);
    if (sameCount > 0) loss = tf.add(loss, tf.div(tf.sum(tf.mul(tf.sub(1, cosine), tf.tensor2d(same, [n, n]))), sameCount));
    if (differentCount > 0 && settings.negativeWeight > 0) {
      const push = tf.div(tf.sum(tf.mul(tf.relu(tf.sub(cosine, settings.margin)), tf.tensor2d(different, [n, n]))), differentCount);
      loss = tf.add(loss, tf.mul(push, settings.negativeWeight));
    }
    return loss as tf.Scalar;
  });
}

/**
 * Group ids [N] of a generated batch: samples whose ws rows ([numWs · wDim], compared exactly) and
 * identity coefficients are equal share an id (numbered in order of first appearance). Reads `ws`
 * back (no gradient flows through the grouping).
 */
export function identityGroups(ws: tf.Tensor3D, geometries: Pick<SampledGeometry, 'identity'>[]): number[] {
  const [n] = ws.shape;
  if (geometries.length !== n) throw invalidParameterError('geometries', `one geometry per ws row (${n})`, geometries.length);
  const rows = ws.dataSync();
  const rowLength = rows.length / n;
  const keys = new Map<string, number>();
  return geometries.map((g, i) => {
    const key = `${Array.from(rows.subarray(i * rowLength, (i + 1) * rowLength)).join(',')}|${Array.from(g.identity).join(',')}`;
    if (!keys.has(key)) keys.set(key, keys.size);
    return keys.get(key)!;
  });
}

/**
 * The loss as train-gar's identity hook (`GeometryConsistencyModels.identity`): groups from ws and
 * the geometries' identity coefficients, then identityContrastiveLoss. It pulls only where the batch
 * holds pairs (same z and identity coefficients, other pose or expression): GarTrainer generates
 * such batches with samplePairedGeometries on the steps it calls the hook. Only the first
 * `maxImages` renders are embedded (pairs are adjacent rows, so whole pairs). The embedder stays the caller's.
 */
export function createIdentityConsistencyLoss(embedder: FaceEmbedder, config: Partial<IdentityConsistencyConfig> = {}): IdentityConsistencyLoss {
  const settings = validateIdentityConsistencyConfig(config);
  return (images, ws, geometries) =>
    tf.tidy(() => {
      const kept = Math.min(images.shape[0], settings.maxImages);
      const groups = identityGroups(tf.slice(ws, 0, kept), geometries.slice(0, kept));
      return identityContrastiveLoss(embedder, tf.slice(images, 0, kept), groups, settings);
    });
}

/**
 * 2·`pairs` geometries from `sampler`: 2k and 2k + 1 share the identity coefficients and differ in
 * pose and expression (each drawn afresh from the sampler's prior), framed as the sampler frames them.
 */
export function samplePairedGeometries(sampler: GeometrySampler, random: SeededRandom, pairs: number): SampledGeometry[] {
  if (!Number.isInteger(pairs) || pairs < 1) throw invalidParameterError('pairs', 'an integer ≥ 1', pairs);
  const out: SampledGeometry[] = [];
  for (let k = 0; k < pairs; k++) {
    const first = sampler.sample(random);
    const other = sampler.sample(random);
    out.push(first, {
      identity: first.identity,
      expression: other.expression,
      eulerRad: other.eulerRad,
      ...sampler.frame(first.identity, other.expression, other.eulerRad),
    });
  }
  return out;
}
