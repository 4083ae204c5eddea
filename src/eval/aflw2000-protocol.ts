import type { Reconstructor } from '../api/reconstruct.ts';
import { FacegarError } from '../common/errors.ts';
import type { RgbaImage } from '../common/image.ts';
import type { FitConfig } from '../fit/fit-config.ts';
import type { MatArray } from '../io/mat-file.ts';

/**
 * AFLW2000-3D landmark benchmark (Zhu et al. 2016, as reported by 3DDFA, PRNet and the GAR
 * paper's supplement): 68-point 2D NME, normalised by sqrt(w·h) of the ground-truth landmarks'
 * bounding box, split by |yaw| into 0–30°, 30–60°, 60–90°, and the mean of the three buckets.
 */
export const AFLW_YAW_BUCKETS = [[0, 30], [30, 60], [60, 90]] as const;

/** What one image's `.mat` file gives: 68 landmarks (image px, x then y) and the yaw. */
export interface AflwGroundTruth {
  /** [68*2] x, y of `pt3d_68` rows 1–2 (image pixels, as the dataset gives them). */
  landmarks2d: Float64Array;
  /** `Pose_Para(2)` (yaw) in degrees; Pose_Para is [pitch, yaw, roll, tx, ty, tz, scale] in radians. */
  yawDeg: number;
}

/** Ground truth from the variables of an AFLW2000-3D `.mat` file. Throws RangeError when `pt3d_68` or `Pose_Para` is missing or misshapen. */
export function aflwGroundTruth(variables: Map<string, MatArray>): AflwGroundTruth {
  const points = variables.get('pt3d_68');
  const pose = variables.get('Pose_Para');
  if (!points || points.data.length !== 3 * 68 || points.dims[0] !== 3) throw new RangeError('no 3×68 pt3d_68 array');
  if (!pose || pose.data.length < 3) throw new RangeError('no Pose_Para array');
  const landmarks2d = new Float64Array(136);
  for (let k = 0; k < 68; k++) { landmarks2d[2 * k] = points.data[3 * k]; landmarks2d[2 * k + 1] = points.data[3 * k + 1]; }
  return { landmarks2d, yawDeg: pose.data[1] * 180 / Math.PI };
}

/** sqrt(width · height) of the bounding box of [68*2] points (px). */
export function landmarkBoxSize(landmarks2d: ArrayLike<number>): number {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (let k = 0; k < landmarks2d.length / 2; k++) {
    minX = Math.min(minX, landmarks2d[2 * k]); maxX = Math.max(maxX, landmarks2d[2 * k]);
    minY = Math.min(minY, landmarks2d[2 * k + 1]); maxY = Math.max(maxY, landmarks2d[2 * k + 1]);
  }
  return Math.sqrt((maxX - minX) * (maxY - minY));
}

/** Mean 2D distance between [68*2] predicted and true landmarks over the true box size (a fraction; ×100 for %). */
export function aflwNme(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  let sum = 0;
  for (let k = 0; k < 68; k++) sum += Math.hypot(predicted[2 * k] - truth[2 * k], predicted[2 * k + 1] - truth[2 * k + 1]);
  return sum / 68 / landmarkBoxSize(truth);
}

/** The bucket key ("0-30", "30-60", "60-90") of a yaw; |yaw| ≥ 90° goes to the last bucket. */
export function aflwYawBucket(yawDeg: number): string {
  const a = Math.abs(yawDeg);
  const bucket = AFLW_YAW_BUCKETS.find(([, high]) => a < high) ?? AFLW_YAW_BUCKETS[AFLW_YAW_BUCKETS.length - 1];
  return `${bucket[0]}-${bucket[1]}`;
}

/** One image's outcome. */
export interface AflwSample {
  name: string;
  yawDeg: number;
  ok: boolean;
  /** NME (fraction) when ok. */
  nme?: number;
  /** Error code when the reconstruction failed (e.g. noFace). */
  failure?: string;
  ms: number;
}

export interface AflwSummary {
  /** Per bucket: mean NME (fraction) over the images reconstructed, and counts. */
  byYaw: Record<string, { nme: number; images: number; failures: number }>;
  /** Mean of the three bucket NMEs (buckets without images are left out). */
  meanNme: number;
  /** Mean NME over all reconstructed images. */
  overallNme: number;
  successRate: number;
  images: number;
  msPerImage: number;
}

/** Summarise samples; failures count against the success rate, not in the NME. */
export function summarizeAflw(samples: AflwSample[]): AflwSummary {
  const byYaw: AflwSummary['byYaw'] = {};
  const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN);
  for (const [low, high] of AFLW_YAW_BUCKETS) {
    const key = `${low}-${high}`;
    const inBucket = samples.filter((s) => aflwYawBucket(s.yawDeg) === key);
    const ok = inBucket.filter((s) => s.ok);
    byYaw[key] = { nme: mean(ok.map((s) => s.nme!)), images: inBucket.length, failures: inBucket.length - ok.length };
  }
  const bucketMeans = Object.values(byYaw).map((b) => b.nme).filter(Number.isFinite);
  const ok = samples.filter((s) => s.ok);
  return {
    byYaw, meanNme: mean(bucketMeans), overallNme: mean(ok.map((s) => s.nme!)),
    successRate: samples.length ? ok.length / samples.length : 0, images: samples.length,
    msPerImage: mean(samples.map((s) => s.ms)),
  };
}

/**
 * Reconstruct one AFLW2000-3D image (detection included; the largest face is scored) and score
 * its projected model landmarks. A user-level failure (no face, failed fit) becomes a failed
 * sample; anything else is rethrown.
 */
export async function evaluateAflwImage(reconstructor: Reconstructor, name: string, image: RgbaImage, truth: AflwGroundTruth, fit: Partial<FitConfig> = {}): Promise<AflwSample> {
  const started = performance.now();
  try {
    const result = await reconstructor.reconstruct(image, { maxFaces: 1, fit });
    return { name, yawDeg: truth.yawDeg, ok: true, nme: aflwNme(result.faces[0].landmarks2d, truth.landmarks2d), ms: performance.now() - started };
  } catch (error) {
    if (!(error instanceof FacegarError)) throw error;
    return { name, yawDeg: truth.yawDeg, ok: false, failure: error.code, ms: performance.now() - started };
  }
}

/** The summary as a text table (NME in %). */
export function formatAflwTable(summary: AflwSummary): string {
  const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(2) : '—');
  const lines = [`${'|yaw|'.padEnd(8)} ${'NME %'.padStart(7)} ${'images'.padStart(7)} ${'failed'.padStart(7)}`];
  for (const [key, b] of Object.entries(summary.byYaw)) lines.push(`${key.padEnd(8)} ${pct(b.nme).padStart(7)} ${String(b.images).padStart(7)} ${String(b.failures).padStart(7)}`);
  lines.push(`${'mean'.padEnd(8)} ${pct(summary.meanNme).padStart(7)}`);
  lines.push(`${'all'.padEnd(8)} ${pct(summary.overallNme).padStart(7)} ${String(summary.images).padStart(7)}`);
  lines.push(`success ${(100 * summary.successRate).toFixed(1)} %, ${summary.msPerImage.toFixed(0)} ms per image`);
  return lines.join('\n') + '\n';
}
