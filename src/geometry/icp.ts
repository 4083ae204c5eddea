import type { TriangleMeshIndex } from './triangle-mesh-index.ts';
import {
  applySimilarityTransform,
  estimateSimilarityTransform,
  identityTransform,
  invertSimilarityTransform,
  type SimilarityTransform,
} from './similarity-alignment.ts';

export interface IcpConfig {
  /** Most iterations. */
  maxIterations: number;
  /** Keep only this fraction of the correspondences with the smallest distances (1 = all, no trimming). */
  inlierFraction: number;
  /** Estimate a uniform scale too (similarity ICP). */
  withScale: boolean;
  /** Stop when the RMS distance improves by less than this (same unit as the points). */
  tolerance: number;
}

export const DEFAULT_ICP_CONFIG: Readonly<IcpConfig> = Object.freeze({ maxIterations: 50, inlierFraction: 1, withScale: false, tolerance: 1e-5 });

export function validateIcpConfig(config: Partial<IcpConfig> = {}): IcpConfig {
  const out = { ...DEFAULT_ICP_CONFIG, ...config };
  if (!Number.isInteger(out.maxIterations) || out.maxIterations < 0)
    throw new RangeError(`maxIterations must be a non-negative integer, got ${out.maxIterations}`);
  if (!(out.inlierFraction > 0 && out.inlierFraction <= 1)) throw new RangeError(`inlierFraction must be in (0, 1], got ${out.inlierFraction}`);
  if (!(out.tolerance >= 0)) throw new RangeError(`tolerance must be ≥ 0, got ${out.tolerance}`);
  return out;
}

export interface IcpResult {
  /** Maps the mesh (in the index's coordinates) onto the points. */
  transform: SimilarityTransform;
  /** RMS point-to-mesh distance over the inliers at the end, in the points' space. */
  rms: number;
  iterations: number;
}

/**
 * ICP that moves a mesh onto a point set (e.g. a predicted face mesh onto a scan): each
 * iteration finds, for every point, the closest point on the currently transformed mesh, then
 * solves the similarity/rigid transform from those mesh points (in mesh coordinates) to the
 * points. Distances are measured in the points' space, so a scale change cannot shrink them.
 *
 * @param points [N*3] the fixed point set (e.g. scan vertices).
 * @param mesh index over the moving mesh, in its own coordinates.
 * @param initial starting mesh→points transform (default identity).
 */
export function alignMeshToPoints(
  points: ArrayLike<number>,
  mesh: TriangleMeshIndex,
  initial: SimilarityTransform = identityTransform(),
  configOverrides: Partial<IcpConfig> = {},
): IcpResult {
  const config = validateIcpConfig(configOverrides);
  const n = Math.floor(points.length / 3);
  let transform = initial;
  const meshPoints = new Float64Array(n * 3);
  const weights = new Float64Array(n);
  let previousRms = Infinity;
  let rms = Infinity;
  let iterations = 0;
  const evaluate = () => {
    // Closest points are found in mesh coordinates, then mapped back (distances scale by s).
    const local = applySimilarityTransform(points, invertSimilarityTransform(transform));
    const distances = mesh.distancesFrom(local, meshPoints);
    for (let i = 0; i < n; i++) distances[i] *= transform.scale;
    const threshold = inlierThreshold(distances, config.inlierFraction);
    let sum = 0,
      count = 0;
    for (let i = 0; i < n; i++) {
      weights[i] = distances[i] <= threshold ? 1 : 0;
      if (weights[i]) {
        sum += distances[i] ** 2;
        count++;
      }
    }
    return Math.sqrt(sum / Math.max(1, count));
  };
  rms = evaluate();
  while (iterations < config.maxIterations) {
    const candidate = estimateSimilarityTransform(meshPoints, points, { withScale: config.withScale, weights });
    const saved = transform;
    transform = candidate;
    iterations++;
    previousRms = rms;
    rms = evaluate();
    if (rms > previousRms) {
      transform = saved;
      rms = evaluate();
      break;
    }
    if (previousRms - rms < config.tolerance) break;
  }
  return { transform, rms, iterations };
}

function inlierThreshold(distances: Float64Array, fraction: number): number {
  if (fraction >= 1) return Infinity;
  const sorted = Float64Array.from(distances).sort();
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)];
}
