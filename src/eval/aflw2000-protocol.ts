import type { FaceReconstruction, ReconstructOptions, Reconstructor } from '../api/reconstruct.ts';
import { FacegarError } from '../common/errors.ts';
import type { RgbaImage } from '../common/image.ts';
import type { FaceDetector } from '../detect/face-detector.ts';
import { projectPointsArray, transformPointsArray } from '../geometry/camera.ts';
import type { MatArray } from '../io/mat-file.ts';
import type { MorphableModel } from '../morphable/morphable-model.ts';

/**
 * AFLW2000-3D landmark benchmark (Zhu et al. 2016, as reported by 3DDFA, PRNet and the GAR
 * paper's supplement): 68-point 2D NME, normalised by sqrt(w·h) of the ground-truth landmarks'
 * bounding box, split by |yaw| into 0–30°, 30–60°, 60–90°, and the mean of the three buckets.
 */
export const AFLW_YAW_BUCKETS = [
  [0, 30],
  [30, 60],
  [60, 90],
] as const;

/**
 * AFLW2000-3D's pixel coordinates are MATLAB's, 1-based: the top-left pixel's centre is (1, 1)
 * (its fitting code flips y as height + 1 − y), where facegar's is (0.5, 0.5). facegar pixel =
 * dataset pixel − AFLW_PIXEL_OFFSET.
 */
export const AFLW_PIXEL_OFFSET = 0.5;

/** What one image's `.mat` file gives: 68 landmarks (image px, x then y) and the yaw. */
export interface AflwGroundTruth {
  /** [68*2] x, y of `pt3d_68` rows 1–2 in facegar's image pixels (the dataset's − AFLW_PIXEL_OFFSET). */
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
  for (let k = 0; k < 68; k++) {
    landmarks2d[2 * k] = points.data[3 * k] - AFLW_PIXEL_OFFSET;
    landmarks2d[2 * k + 1] = points.data[3 * k + 1] - AFLW_PIXEL_OFFSET;
  }
  return { landmarks2d, yawDeg: (pose.data[1] * 180) / Math.PI };
}

/** sqrt(width · height) of the bounding box of [68*2] points (px). */
export function landmarkBoxSize(landmarks2d: ArrayLike<number>): number {
  let minX = Infinity,
    minY = Infinity,
    maxX = -Infinity,
    maxY = -Infinity;
  for (let k = 0; k < landmarks2d.length / 2; k++) {
    minX = Math.min(minX, landmarks2d[2 * k]);
    maxX = Math.max(maxX, landmarks2d[2 * k]);
    minY = Math.min(minY, landmarks2d[2 * k + 1]);
    maxY = Math.max(maxY, landmarks2d[2 * k + 1]);
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
  /** NME (fraction) when ok: of the fit's 3D landmarks (or, detection only, of the detector's 68 points). */
  nme?: number;
  /** NME of the fit's reported `landmarks2d` (the detector-calibrated landmark vertices). */
  outputNme?: number;
  /** NME of the detector's 68 points. */
  detectorNme?: number;
  /** FaceMesh's face score of the face scored. */
  meshScore?: number;
  /** Where the fit's landmarks came from (FaceReconstruction.landmarkSource), when reported. */
  landmarkSource?: string;
  /** Error code when the reconstruction failed (e.g. noFace); 'wrongFace' when the face found is not the annotated one. */
  failure?: string;
  ms: number;
}

export interface AflwSummary {
  /** Per bucket: mean NME (fraction) over the images reconstructed, and counts. */
  byYaw: Record<string, { nme: number; outputNme: number; detectorNme: number; images: number; failures: number; landmarkSources: Record<string, number> }>;
  /** Mean of the three bucket NMEs (buckets without images are left out). */
  meanNme: number;
  /** The same for the fit's reported landmarks2d and for the detector's points (NaN when not recorded). */
  meanOutputNme: number;
  meanDetectorNme: number;
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
    const landmarkSources: Record<string, number> = {};
    for (const s of ok) if (s.landmarkSource) landmarkSources[s.landmarkSource] = (landmarkSources[s.landmarkSource] ?? 0) + 1;
    const recorded = (field: 'outputNme' | 'detectorNme') => mean(ok.filter((s) => s[field] !== undefined).map((s) => s[field]!));
    byYaw[key] = {
      nme: mean(ok.map((s) => s.nme!)),
      outputNme: recorded('outputNme'),
      detectorNme: recorded('detectorNme'),
      images: inBucket.length,
      failures: inBucket.length - ok.length,
      landmarkSources,
    };
  }
  const bucketMean = (field: 'nme' | 'outputNme' | 'detectorNme') =>
    mean(
      Object.values(byYaw)
        .map((b) => b[field])
        .filter(Number.isFinite),
    );
  const ok = samples.filter((s) => s.ok);
  return {
    byYaw,
    meanNme: bucketMean('nme'),
    meanOutputNme: bucketMean('outputNme'),
    meanDetectorNme: bucketMean('detectorNme'),
    overallNme: mean(ok.map((s) => s.nme!)),
    successRate: samples.length ? ok.length / samples.length : 0,
    images: samples.length,
    msPerImage: mean(samples.map((s) => s.ms)),
  };
}

/**
 * The fit's 3D landmarks in the image: the model's 68 landmark vertices (`model.landmarkVertexIndices`,
 * AFLW2000-3D's kind of landmark: fixed points of the 3D face, occluded ones included) of the fitted
 * mesh, projected through the fitted camera. [68*2] px.
 */
export function fitted3dLandmarks(
  model: MorphableModel,
  face: Pick<FaceReconstruction, 'vertices' | 'rotation' | 'translationMm' | 'focalPx' | 'principalPointPx'>,
): Float32Array {
  const points = new Float32Array(68 * 3);
  model.landmarkVertexIndices.forEach((v, k) => points.set(face.vertices.subarray(3 * v, 3 * v + 3), 3 * k));
  const camera = { focalPx: face.focalPx, principalPointPx: face.principalPointPx, width: 0, height: 0 };
  return projectPointsArray(transformPointsArray(points, face.rotation, face.translationMm), camera);
}

/**
 * Reconstruct one AFLW2000-3D image (detection included; the largest face is scored) and score
 * its 3D landmarks (fitted3dLandmarks). A user-level failure (no face, failed fit) becomes a
 * failed sample; anything else is rethrown.
 */
export async function evaluateAflwImage(
  reconstructor: Reconstructor,
  name: string,
  image: RgbaImage,
  truth: AflwGroundTruth,
  options: ReconstructOptions = {},
): Promise<AflwSample> {
  const started = performance.now();
  try {
    const result = await reconstructor.reconstruct(image, { ...options, maxFaces: 1 });
    const face = result.faces[0];
    return {
      name,
      yawDeg: truth.yawDeg,
      ok: true,
      nme: aflwNme(fitted3dLandmarks(reconstructor.model, face), truth.landmarks2d),
      outputNme: aflwNme(face.landmarks2d, truth.landmarks2d),
      detectorNme: aflwNme(face.detectedLandmarks2d, truth.landmarks2d),
      meshScore: face.meshScore,
      landmarkSource: face.landmarkSource,
      ms: performance.now() - started,
    };
  } catch (error) {
    if (!(error instanceof FacegarError)) throw error;
    return { name, yawDeg: truth.yawDeg, ok: false, failure: error.code, ms: performance.now() - started };
  }
}

/**
 * Detection only: whether the detector finds the annotated face (the largest face's box centre
 * inside the ground-truth landmarks' box; another face counts as a miss, 'wrongFace') and the
 * NME of its 68 points.
 */
export async function evaluateAflwDetection(detector: FaceDetector, name: string, image: RgbaImage, truth: AflwGroundTruth): Promise<AflwSample> {
  const started = performance.now();
  const face = (await detector.detect(image))[0];
  const ms = performance.now() - started;
  if (!face) return { name, yawDeg: truth.yawDeg, ok: false, failure: 'noFace', ms };
  const cx = face.box.x + face.box.width / 2,
    cy = face.box.y + face.box.height / 2;
  let minX = Infinity,
    minY = Infinity,
    maxX = -Infinity,
    maxY = -Infinity;
  for (let k = 0; k < 68; k++) {
    minX = Math.min(minX, truth.landmarks2d[2 * k]);
    maxX = Math.max(maxX, truth.landmarks2d[2 * k]);
    minY = Math.min(minY, truth.landmarks2d[2 * k + 1]);
    maxY = Math.max(maxY, truth.landmarks2d[2 * k + 1]);
  }
  if (cx < minX || cx > maxX || cy < minY || cy > maxY) return { name, yawDeg: truth.yawDeg, ok: false, failure: 'wrongFace', meshScore: face.meshScore, ms };
  const nme = aflwNme(face.landmarks68, truth.landmarks2d);
  return { name, yawDeg: truth.yawDeg, ok: true, nme, detectorNme: nme, meshScore: face.meshScore, ms };
}

/**
 * The summary as a text table (NME in %). `what`: 'fit' (reconstructions: the 3D landmarks' NME,
 * then the fit's reported landmarks2d's and the detector's, "reconstructed N of M" and the landmark
 * sources used) or 'detector' (detection only: the detector's NME, "found N of M").
 */
export function formatAflwTable(summary: AflwSummary, what: 'fit' | 'detector' = 'fit'): string {
  const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(2) : '—').padStart(7);
  const done = what === 'fit' ? 'reconstructed' : 'found';
  const extra = (b: { outputNme: number; detectorNme: number }) => (what === 'fit' ? ` ${pct(b.outputNme)} ${pct(b.detectorNme)}` : '');
  const lines = [
    `${'|yaw|'.padEnd(8)} ${(what === 'fit' ? 'NME 3D %' : 'det NME %').padStart(9)}${what === 'fit' ? ` ${'2D %'.padStart(7)} ${'det %'.padStart(7)}` : ''} ${'images'.padStart(7)} ${'failed'.padStart(7)}  ${done}`,
  ];
  for (const [key, b] of Object.entries(summary.byYaw)) {
    const sources = Object.entries(b.landmarkSources)
      .map(([source, n]) => `${source} ${n}`)
      .join(', ');
    lines.push(
      `${key.padEnd(8)} ${pct(b.nme).padStart(9)}${extra(b)} ${String(b.images).padStart(7)} ${String(b.failures).padStart(7)}  ${done} ${b.images - b.failures} of ${b.images}${sources ? `; landmarks: ${sources}` : ''}`,
    );
  }
  lines.push(`${'mean'.padEnd(8)} ${pct(summary.meanNme).padStart(9)}${extra({ outputNme: summary.meanOutputNme, detectorNme: summary.meanDetectorNme })}`);
  lines.push(`${'all'.padEnd(8)} ${pct(summary.overallNme).padStart(9)}${what === 'fit' ? ' '.repeat(16) : ''} ${String(summary.images).padStart(7)}`);
  lines.push(`success ${(100 * summary.successRate).toFixed(1)} %, ${summary.msPerImage.toFixed(0)} ms per image`);
  return lines.join('\n') + '\n';
}
