// When to trust the detector's landmarks. FaceMesh is made for near-frontal faces: past 45–60° of
// yaw its jaw and brows stay a line on the face instead of following the 3D contour, its far side
// folds, and its face flag drops (measured on studio renders with exact truth, `facegar eval
// aflw2000 --detect-only` on `--write-synthetic` folders: its 68 points are 3.0 % of the box off at
// 0–30°, 5.0 % at 30–60°, 12.3 % at 60–90°; at 45–60° its eyes, nose and mouth stay within 3–5 %
// while its jaw is 11–12 % off). A pose-robust source (a shape encoder trained on renders of
// every pose) then supplies the points FaceMesh gets wrong.

/** Where the landmarks a fit follows came from. */
export type LandmarkSource = 'facemesh' | 'encoder' | 'facemesh+encoder';

export interface LandmarkReliabilityConfig {
  /** FaceMesh's face flag below this: none of its points are used (it doubts there is a face it can fit). */
  minMeshScore: number;
  /** |yaw| (degrees) from which the jaw line and brows come from the encoder, FaceMesh keeping eyes, nose and mouth. */
  partialYawDeg: number;
  /** |yaw| (degrees) from which every point comes from the encoder. */
  fullYawDeg: number;
  /**
   * The nose tip this many half eye-widths beside the eyes' midpoint (1 = at an outer eye corner)
   * is implausible for FaceMesh's near-frontal template: every point comes from the encoder.
   */
  maxNoseShift: number;
}

export const DEFAULT_LANDMARK_RELIABILITY_CONFIG: Readonly<LandmarkReliabilityConfig> = Object.freeze({
  minMeshScore: 0.5,
  partialYawDeg: 45,
  fullYawDeg: 60,
  maxNoseShift: 1.5,
});

/** What the detector gave for one face. */
export interface DetectorLandmarkEvidence {
  /** [68*2] iBUG-68 x, y (px). */
  landmarks68: Float32Array;
  /** FaceMesh's face flag, 0..1. */
  meshScore: number;
  /** [468*3] FaceMesh x, y (px) and z (same scale, smaller = nearer), when available. */
  mesh468?: Float32Array;
}

export interface LandmarkAssessment {
  /** The source the fit should use (always 'facemesh' when no pose-robust source is at hand). */
  source: LandmarkSource;
  /** Whether FaceMesh's landmarks can be used as they are. */
  reliable: boolean;
  /** Why not, in words (empty when reliable). */
  reasons: string[];
  /** Yaw (degrees, facegar's sign: R = Rz(roll)·Ry(yaw)·Rx(pitch)) from FaceMesh's own 3D mesh, when given. */
  meshYawDeg?: number;
  /** Yaw (degrees) of the pose-robust estimate, when given. */
  encoderYawDeg?: number;
  /** The nose tip's shift from the eyes' midpoint, in half eye-widths (see maxNoseShift). */
  noseShift: number;
  /** [68] 1 = the fit follows the detector's point, 0 = the pose-robust source's. */
  keepDetector: Uint8Array;
}

/** FaceMesh's outer eye corners (image-left, image-right). */
const MESH_EYE_CORNERS = [33, 263] as const;
/** iBUG-68 points FaceMesh keeps on a moderately turned face: nose, eyes, mouth (27–67). */
const INNER_POINTS_FIRST = 27;

/**
 * Yaw (degrees) of the head from FaceMesh's 3D points: the turn of the line between the outer eye
 * corners out of the image plane. Follows the true yaw within a few degrees up to ~60° on studio
 * renders, then saturates (FaceMesh never reports much beyond 60°).
 */
export function meshYawDeg(mesh468: Float32Array): number {
  const [l, r] = MESH_EYE_CORNERS.map((i) => 3 * i);
  return (Math.atan2(mesh468[r + 2] - mesh468[l + 2], mesh468[r] - mesh468[l]) * 180) / Math.PI;
}

/**
 * The nose tip's (iBUG 30) distance from the midpoint of the outer eye corners (36, 45) along the
 * eye line, in half eye-widths: ~0 frontal, 1 at an eye corner.
 */
export function noseShift(landmarks68: Float32Array): number {
  const x0 = landmarks68[72],
    y0 = landmarks68[73],
    x1 = landmarks68[90],
    y1 = landmarks68[91];
  const half = Math.max(1e-6, Math.hypot(x1 - x0, y1 - y0) / 2);
  const ux = (x1 - x0) / (2 * half),
    uy = (y1 - y0) / (2 * half);
  return Math.abs((landmarks68[60] - (x0 + x1) / 2) * ux + (landmarks68[61] - (y0 + y1) / 2) * uy) / half;
}

/**
 * Decide whether a face's detector landmarks are reliable and, if not, which points a pose-robust
 * source replaces. `encoderYawDeg`: that source's yaw; undefined when there is none, and then the
 * source stays 'facemesh' (the assessment still says why the points are doubtful).
 */
export function assessDetectorLandmarks(
  evidence: DetectorLandmarkEvidence,
  encoderYawDeg?: number,
  config: Partial<LandmarkReliabilityConfig> = {},
): LandmarkAssessment {
  const c = { ...DEFAULT_LANDMARK_RELIABILITY_CONFIG, ...config };
  const meshYaw = evidence.mesh468 && evidence.mesh468.length === 468 * 3 ? meshYawDeg(evidence.mesh468) : undefined;
  const turned = Math.max(Math.abs(meshYaw ?? 0), Math.abs(encoderYawDeg ?? 0));
  const shift = noseShift(evidence.landmarks68);
  const reasons: string[] = [];
  let level: 0 | 1 | 2 = 0; // 0 all detector points, 1 inner points only, 2 none
  if (evidence.meshScore < c.minMeshScore) {
    reasons.push(`face score ${evidence.meshScore.toFixed(2)} < ${c.minMeshScore}`);
    level = 2;
  }
  if (shift > c.maxNoseShift) {
    reasons.push(`nose tip ${shift.toFixed(2)} half eye-widths off centre`);
    level = 2;
  }
  if (turned >= c.fullYawDeg) {
    reasons.push(`turned ${turned.toFixed(0)}°`);
    level = 2;
  } else if (turned >= c.partialYawDeg) {
    reasons.push(`turned ${turned.toFixed(0)}°`);
    level = Math.max(level, 1) as 1 | 2;
  }
  const keepDetector = new Uint8Array(68).fill(1);
  if (encoderYawDeg !== undefined && level > 0) keepDetector.fill(0, 0, level === 1 ? INNER_POINTS_FIRST : 68);
  const source: LandmarkSource = encoderYawDeg === undefined || level === 0 ? 'facemesh' : level === 1 ? 'facemesh+encoder' : 'encoder';
  return {
    source,
    reliable: level === 0,
    reasons,
    ...(meshYaw !== undefined ? { meshYawDeg: meshYaw } : {}),
    ...(encoderYawDeg !== undefined ? { encoderYawDeg } : {}),
    noseShift: shift,
    keepDetector,
  };
}

/** [68*2] the detector's point where `keepDetector` is 1, else the other source's. */
export function blendLandmarks(detector68: Float32Array, other68: Float32Array, keepDetector: Uint8Array): Float32Array {
  const out = new Float32Array(136);
  for (let k = 0; k < 68; k++) {
    const from = keepDetector[k] ? detector68 : other68;
    out[2 * k] = from[2 * k];
    out[2 * k + 1] = from[2 * k + 1];
  }
  return out;
}
