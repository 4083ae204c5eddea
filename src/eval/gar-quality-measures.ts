// The building blocks of the GAR quality report: a feature-space distance between image sets
// (KID), landmarks FaceMesh finds in an aligned crop, and the normalised landmark error.
import * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../common/errors.ts';
import type { RgbaImage } from '../common/image.ts';
import type { FaceMesh } from '../detect/facemesh.ts';
import { meshToIbug68 } from '../detect/ibug68.ts';
import { ImagePyramid } from '../detect/image-pyramid.ts';
import { SeededRandom } from '../common/seeded-random.ts';

export interface KidOptions {
  /** Random subsets averaged (StyleGAN2-ADA: 100). */
  subsets?: number;
  /** Samples per set in each subset; capped at the smaller set (StyleGAN2-ADA: 1000). */
  subsetSize?: number;
  seed?: number;
}

/**
 * Kernel Inception Distance as StyleGAN2-ADA computes it (Bińkowski et al. 2018), in any feature
 * space: the unbiased estimate of MMD² with the cubic polynomial kernel k(x, y) = (x·y/d + 1)³,
 * averaged over `subsets` random subsets of m samples drawn without replacement from each set.
 * `a`, `b`: feature vectors of length d. Returns the mean and the standard deviation over subsets.
 * 0 in expectation for two samples of one distribution (it can come out slightly negative).
 */
export function kernelInceptionDistance(a: Float32Array[], b: Float32Array[], options: KidOptions = {}): { kid: number; std: number; subsetSize: number } {
  if (a.length < 2 || b.length < 2) throw invalidParameterError('features', 'at least 2 vectors per set', Math.min(a.length, b.length));
  const d = a[0].length;
  if (![...a, ...b].every((v) => v.length === d)) throw invalidParameterError('features', `vectors of one length (${d})`, 'mixed lengths');
  const subsets = options.subsets ?? 100;
  const m = Math.min(options.subsetSize ?? 1000, a.length, b.length);
  const random = new SeededRandom(options.seed ?? 0);
  // Every kernel value once (n² dot products), then each subset only sums table entries.
  const table = (p: Float32Array[], q: Float32Array[]) => {
    const out = new Float64Array(p.length * q.length);
    for (let i = 0; i < p.length; i++) {
      for (let j = 0; j < q.length; j++) {
        let dot = 0;
        for (let k = 0; k < d; k++) dot += p[i][k] * q[j][k];
        out[i * q.length + j] = (dot / d + 1) ** 3;
      }
    }
    return out;
  };
  const kaa = table(a, a),
    kbb = table(b, b),
    kab = table(a, b);
  const values: number[] = [];
  for (let s = 0; s < subsets; s++) {
    const x = pick(a.length, m, random),
      y = pick(b.length, m, random);
    let withinX = 0,
      withinY = 0,
      between = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        if (i !== j) {
          withinX += kaa[x[i] * a.length + x[j]];
          withinY += kbb[y[i] * b.length + y[j]];
        }
        between += kab[x[i] * b.length + y[j]];
      }
    }
    values.push((withinX + withinY) / (m * (m - 1)) - (2 * between) / (m * m));
  }
  const kid = values.reduce((sum, v) => sum + v, 0) / subsets;
  const std = Math.sqrt(values.reduce((sum, v) => sum + (v - kid) ** 2, 0) / subsets);
  return { kid, std, subsetSize: m };
}

/** `count` distinct indices below `n` (partial Fisher–Yates). */
function pick(n: number, count: number, random: SeededRandom): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + random.integer(n - i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, count);
}

/** FaceMesh's reading of one aligned crop. */
export interface CropLandmarks {
  /** [68 * 2] iBUG-68 x, y in crop pixels. */
  landmarks68: Float32Array;
  /** FaceMesh face flag 0…1 of the pass kept (below ~0.25: no face it could fit). */
  score: number;
}

/**
 * FaceMesh landmarks of an aligned face crop of any size (a 32² GAR render is upsampled by the
 * crop sampling to FaceMesh's 192² input): a first pass on the whole crop (aligned crops frame the
 * face about as FaceMesh's own crops do), then `refineIterations` re-crops around the mesh, as the
 * detector does on photos; the best-scoring pass is kept.
 */
export async function landmarksInAlignedCrop(faceMesh: FaceMesh, crop: RgbaImage, refineIterations = 2, enlarge = 1.5): Promise<CropLandmarks> {
  const pyramid = new ImagePyramid(crop);
  const scale = crop.width / faceMesh.inputSize;
  let best = await faceMesh.fitInCrop(pyramid, { a: scale, b: 0, c: 0, d: scale, tx: 0, ty: 0 });
  let current = best;
  for (let i = 0; i < refineIterations; i++) {
    current = await faceMesh.fitInCrop(pyramid, faceMesh.cropAroundMesh(current.mesh, enlarge));
    if (current.score >= best.score - 0.05) best = current;
  }
  return { landmarks68: meshToIbug68(best.mesh), score: best.score };
}

/** iBUG points compared by default: brows, nose, eyes, mouth (17–67); see landmarkError. */
export const INNER_LANDMARKS: readonly number[] = Object.freeze(Array.from({ length: 51 }, (_, i) => 17 + i));
export const ALL_LANDMARKS: readonly number[] = Object.freeze(Array.from({ length: 68 }, (_, i) => i));

/**
 * Mean 2D distance between `found` and `reference` ([68 * 2] each) over `indices`, divided by
 * the reference's inter-ocular distance (outer eye corners 36–45, the 300-W convention). The
 * default leaves out the jaw: FaceMesh's jaw follows the visible silhouette, the model's is a
 * fixed 3D contour, and they part ways as the head turns whatever the renderer does.
 */
export function landmarkError(found: Float32Array, reference: Float32Array, indices: readonly number[] = INNER_LANDMARKS): number {
  const iod = Math.hypot(reference[72] - reference[90], reference[73] - reference[91]);
  let sum = 0;
  for (const k of indices) sum += Math.hypot(found[2 * k] - reference[2 * k], found[2 * k + 1] - reference[2 * k + 1]);
  return sum / indices.length / Math.max(iod, 1e-6);
}

/** GAR images [N, R, R, 3] in −1…1 → opaque RGBA crops (plain JS; the tensor stays the caller's). */
export function garImagesToRgba(images: tf.Tensor4D): RgbaImage[] {
  const [n, height, width] = images.shape;
  const values = images.dataSync();
  return Array.from({ length: n }, (_, k) => {
    const data = new Uint8ClampedArray(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      for (let c = 0; c < 3; c++) data[4 * i + c] = Math.round((values[(k * width * height + i) * 3 + c] + 1) * 127.5);
      data[4 * i + 3] = 255;
    }
    return { width, height, data };
  });
}

/** RGBA crops (one size) → [N, S, S, 3] float32 in 0…1, the embedder's input. */
export function rgbaToUnitTensor(crops: RgbaImage[]): tf.Tensor4D {
  const size = crops[0].width;
  const values = new Float32Array(crops.length * size * size * 3);
  crops.forEach((crop, k) => {
    for (let i = 0; i < size * size; i++) for (let c = 0; c < 3; c++) values[(k * size * size + i) * 3 + c] = crop.data[4 * i + c] / 255;
  });
  return tf.tensor4d(values, [crops.length, size, size, 3]);
}

/** Mean of a list (NaN for an empty one). */
export function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((sum, v) => sum + v, 0) / values.length;
}
