import { alignMeshToPoints } from '../geometry/icp.ts';
import { applySimilarityTransform, estimateSimilarityTransform, type SimilarityTransform } from '../geometry/similarity-alignment.ts';
import { TriangleMeshIndex } from '../geometry/triangle-mesh-index.ts';
import type { PlainMesh } from './benchmark-files.ts';

/**
 * The NoW challenge protocol (Sanyal et al. 2019), re-implemented from its published
 * description: the 7 landmarks are, in order, the outer and inner corners of the right eye,
 * inner and outer corners of the left eye (iBUG 36, 39, 42, 45), the nose bottom (33) and the
 * mouth corners (48, 54).
 */
export const NOW_LANDMARK_IBUG_INDICES = [36, 39, 42, 45, 33, 48, 54] as const;

/**
 * The face centre and crop radius from the scan's 7 landmarks: centre = nose bottom + 0.3 ·
 * (mid inner eye corners − nose bottom); radius = 1.4 · (outer-eye distance + nose length) / 2.
 */
export function nowCropSphere(scanLandmarks: ArrayLike<number>): { centre: [number, number, number]; radius: number } {
  const p = (k: number) => [scanLandmarks[3 * k], scanLandmarks[3 * k + 1], scanLandmarks[3 * k + 2]];
  const noseBottom = p(4);
  const bridge = [0, 1, 2].map((a) => (p(1)[a] + p(2)[a]) / 2);
  const centre = [0, 1, 2].map((a) => noseBottom[a] + 0.3 * (bridge[a] - noseBottom[a])) as [number, number, number];
  const outerEye = Math.hypot(p(0)[0] - p(3)[0], p(0)[1] - p(3)[1], p(0)[2] - p(3)[2]);
  const nose = Math.hypot(bridge[0] - noseBottom[0], bridge[1] - noseBottom[1], bridge[2] - noseBottom[2]);
  return { centre, radius: (1.4 * (outerEye + nose)) / 2 };
}

/** The points [N*3] within `radius` of `centre`. */
export function cropPointsToSphere(points: ArrayLike<number>, centre: ArrayLike<number>, radius: number): Float64Array {
  const kept: number[] = [];
  for (let i = 0; i < points.length; i += 3) {
    if (Math.hypot(points[i] - centre[0], points[i + 1] - centre[1], points[i + 2] - centre[2]) <= radius) kept.push(points[i], points[i + 1], points[i + 2]);
  }
  return Float64Array.from(kept);
}

export interface ScanToMeshResult {
  /** [N] unsigned distance of every cropped scan vertex to the aligned predicted mesh (scan units, mm). */
  distances: Float64Array;
  /** Maps the predicted mesh into the scan's space. */
  transform: SimilarityTransform;
}

/**
 * One NoW evaluation: crop the scan around the face centre, align the prediction by a
 * similarity transform from the 7 landmark pairs, refine with scan-to-mesh ICP (similarity,
 * untrimmed, as the official refinement optimises scale, rotation and translation), then the
 * distance of every cropped scan vertex to the aligned mesh.
 *
 * @param scanVertices [N*3] scan vertices (mm). @param scanLandmarks [7*3] picked points.
 * @param predicted predicted mesh (any unit/frame). @param predictedLandmarks [7*3] on the prediction.
 */
export function evaluateNowScan(
  scanVertices: ArrayLike<number>,
  scanLandmarks: ArrayLike<number>,
  predicted: PlainMesh,
  predictedLandmarks: ArrayLike<number>,
  icpIterations = 50,
): ScanToMeshResult {
  if (scanLandmarks.length !== 21 || predictedLandmarks.length !== 21)
    throw new RangeError(`NoW needs 7 landmarks on the scan and on the prediction (got ${scanLandmarks.length / 3} and ${predictedLandmarks.length / 3})`);
  const { centre, radius } = nowCropSphere(scanLandmarks);
  const cropped = cropPointsToSphere(scanVertices, centre, radius);
  const initial = estimateSimilarityTransform(predictedLandmarks, scanLandmarks, { withScale: true });
  const index = new TriangleMeshIndex(predicted.vertices, predicted.triangles);
  const { transform } = alignMeshToPoints(cropped, index, initial, { withScale: true, maxIterations: icpIterations });
  const aligned = new TriangleMeshIndex(applySimilarityTransform(predicted.vertices, transform), predicted.triangles);
  return { distances: aligned.distancesFrom(cropped), transform };
}

/** NoW's four challenge subsets, as named in its image lists. */
export const NOW_SUBSETS = ['multiview_neutral', 'multiview_expressions', 'multiview_occlusions', 'selfie'] as const;

/** Subject, subset and file stem from one image-list line (`…/<subject>/<subset>/<file>.jpg`). */
export function parseNowImagePath(line: string): { subject: string; subset: string; stem: string } | undefined {
  const parts = line.trim().split('/').filter(Boolean);
  if (parts.length < 3) return undefined;
  const file = parts[parts.length - 1];
  return { subject: parts[parts.length - 3], subset: parts[parts.length - 2], stem: file.replace(/\.[^.]*$/, '') };
}
