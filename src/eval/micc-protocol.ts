import { alignMeshToPoints } from '../geometry/icp.ts';
import { applySimilarityTransform, estimateSimilarityTransform, type SimilarityTransform } from '../geometry/similarity-alignment.ts';
import { TriangleMeshIndex } from '../geometry/triangle-mesh-index.ts';
import type { PlainMesh } from './benchmark-files.ts';
import { cropPointsToSphere } from './now-protocol.ts';

/**
 * The MICC Florence protocol as commonly used (e.g. Tran et al. 2017, Genova et al. 2018,
 * Gecer et al. 2019): one predicted mesh per subject and video setting, compared with the
 * subject's frontal 3D scan cropped to a sphere of 95 mm around the nose tip; the prediction
 * is rigidly aligned to the cropped scan (landmark or centroid start, then ICP) and the error is
 * the RMSE of the scan-to-mesh distances, in mm.
 */

/** The three video settings, with the file stems the dataset uses for the videos. */
export const MICC_SETTINGS = [
  { name: 'cooperative', video: 'Indoor-Cooperative' },
  { name: 'indoor', video: 'PTZ-Indoor' },
  { name: 'outdoor', video: 'PTZ-Outdoor' },
] as const;

export type MiccSettingName = (typeof MICC_SETTINGS)[number]['name'];

export interface MiccEvaluationConfig {
  /** Crop radius around the nose tip (mm). */
  cropRadiusMm: number;
  /** Estimate a uniform scale in the alignment (for predictions in unknown units). Default false: rigid. */
  withScale: boolean;
  icpIterations: number;
  /** Radius (mm) and least count of scan neighbours a nose-tip candidate needs (rejects spikes). */
  noseTipNeighbourRadiusMm: number;
  noseTipMinNeighbours: number;
}

export const DEFAULT_MICC_EVALUATION_CONFIG: Readonly<MiccEvaluationConfig> = Object.freeze({
  cropRadiusMm: 95,
  withScale: false,
  icpIterations: 50,
  noseTipNeighbourRadiusMm: 5,
  noseTipMinNeighbours: 3,
});

export function validateMiccEvaluationConfig(overrides: Partial<MiccEvaluationConfig> = {}): MiccEvaluationConfig {
  const config = { ...DEFAULT_MICC_EVALUATION_CONFIG, ...overrides };
  if (!(config.cropRadiusMm > 0)) throw new RangeError(`cropRadiusMm must be positive, got ${config.cropRadiusMm}`);
  if (!Number.isInteger(config.icpIterations) || config.icpIterations < 0)
    throw new RangeError(`icpIterations must be a non-negative integer, got ${config.icpIterations}`);
  if (!(config.noseTipNeighbourRadiusMm > 0) || !Number.isInteger(config.noseTipMinNeighbours) || config.noseTipMinNeighbours < 0)
    throw new RangeError('invalid nose-tip neighbourhood');
  return config;
}

/**
 * The nose tip of a frontal face scan [N*3] (mm, face looking along +z, +y up, as MICC's
 * frontal scans and facegar's model space are): the highest-z point that has at least
 * `minNeighbours` other scan points within `radiusMm`, so an isolated spike is never taken.
 */
export function findNoseTip(points: ArrayLike<number>, radiusMm = 5, minNeighbours = 3): [number, number, number] {
  const n = Math.floor(points.length / 3);
  if (n === 0) throw new RangeError('empty scan');
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => points[3 * b + 2] - points[3 * a + 2]);
  const radius2 = radiusMm * radiusMm;
  for (const candidate of order.slice(0, Math.min(n, 2000))) {
    const x = points[3 * candidate],
      y = points[3 * candidate + 1],
      z = points[3 * candidate + 2];
    let neighbours = 0;
    for (let j = 0; j < n && neighbours < minNeighbours; j++) {
      if (j === candidate) continue;
      const dz = points[3 * j + 2] - z;
      if (dz * dz > radius2) continue;
      if ((points[3 * j] - x) ** 2 + (points[3 * j + 1] - y) ** 2 + dz * dz <= radius2) neighbours++;
    }
    if (neighbours >= minNeighbours) return [x, y, z];
  }
  const top = order[0];
  return [points[3 * top], points[3 * top + 1], points[3 * top + 2]];
}

export interface MiccScanResult {
  /** sqrt(mean d²) over the cropped scan points, mm. */
  rmseMm: number;
  /** [N] distance of every cropped scan point to the aligned prediction (mm). */
  distances: Float64Array;
  /** Maps the prediction into the scan's space. */
  transform: SimilarityTransform;
  noseTip: [number, number, number];
  initialisation: 'landmarks' | 'centroid';
}

export interface MiccLandmarkPairs {
  /** [K*3] points on the scan and the same K points on the prediction (K ≥ 3), same order. */
  scan: ArrayLike<number>;
  predicted: ArrayLike<number>;
}

/**
 * Evaluate one prediction against one scan.
 *
 * @param scanVertices [N*3] scan points (mm).
 * @param predicted the predicted mesh (mm unless `withScale`).
 * @param landmarks optional corresponding points for the initial alignment; without them the
 *   start is a translation that matches the centroid of the prediction's vertices within the
 *   crop radius of its own nose tip to the centroid of the cropped scan (both faces must look
 *   along +z with +y up, as MICC's frontal scans and facegar's model space do).
 */
export function evaluateMiccScan(
  scanVertices: ArrayLike<number>,
  predicted: PlainMesh,
  landmarks?: MiccLandmarkPairs,
  configOverrides: Partial<MiccEvaluationConfig> = {},
): MiccScanResult {
  const config = validateMiccEvaluationConfig(configOverrides);
  const noseTip = findNoseTip(scanVertices, config.noseTipNeighbourRadiusMm, config.noseTipMinNeighbours);
  const cropped = cropPointsToSphere(scanVertices, noseTip, config.cropRadiusMm);
  let initial: SimilarityTransform;
  if (landmarks) {
    initial = estimateSimilarityTransform(landmarks.predicted, landmarks.scan, { withScale: config.withScale });
  } else {
    const predictedTip = findNoseTip(predicted.vertices, config.noseTipNeighbourRadiusMm, config.noseTipMinNeighbours);
    const predictedCrop = cropPointsToSphere(predicted.vertices, predictedTip, config.cropRadiusMm);
    const from = centroid(predictedCrop),
      to = centroid(cropped);
    initial = {
      scale: 1,
      rotation: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]),
      translation: Float64Array.from([to[0] - from[0], to[1] - from[1], to[2] - from[2]]),
    };
  }
  const index = new TriangleMeshIndex(predicted.vertices, predicted.triangles);
  const { transform } = alignMeshToPoints(cropped, index, initial, { withScale: config.withScale, maxIterations: config.icpIterations });
  const aligned = new TriangleMeshIndex(applySimilarityTransform(predicted.vertices, transform), predicted.triangles);
  const distances = aligned.distancesFrom(cropped);
  return { rmseMm: rootMeanSquare(distances), distances, transform, noseTip, initialisation: landmarks ? 'landmarks' : 'centroid' };
}

export function rootMeanSquare(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return values.length ? Math.sqrt(sum / values.length) : NaN;
}

function centroid(points: ArrayLike<number>): [number, number, number] {
  const out: [number, number, number] = [0, 0, 0];
  const n = Math.floor(points.length / 3);
  for (let i = 0; i < n; i++) for (let a = 0; a < 3; a++) out[a] += points[3 * i + a] / n;
  return out;
}

/** Mean and population std (mm) of per-subject RMSEs, with the count. */
export interface MiccSummary {
  rmseMm: number;
  stdMm: number;
  subjects: number;
}

/** Summarise per-subject RMSEs (one number per subject and setting) as the published tables do: mean ± std over subjects. */
export function summarizeMiccRmse(values: number[]): MiccSummary {
  if (values.length === 0) return { rmseMm: NaN, stdMm: NaN, subjects: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
  return { rmseMm: mean, stdMm: std, subjects: values.length };
}
