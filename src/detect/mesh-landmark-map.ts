// FaceMesh's 468 points → the morphable model's own 68 landmarks, by a linear map learnt on renders
// with exact truth. FaceMesh places iBUG-like points by its own convention: on a turned face its jaw
// is the visible outline and its far eye stays on a frontal template, where the model's landmarks
// (and AFLW2000-3D's) are fixed vertices, occluded ones included. Read the whole mesh, its depth
// included, the map says where the model's 68 vertices project. It is fitted by ridge regression
// (`scripts/fit-mesh-landmark-map.ts`); applying it is one matrix product.
import { invalidParameterError } from '../common/errors.ts';
import { MESH_POINT_COUNT } from './facemesh.ts';
import { meshToIbug68 } from './ibug68.ts';

/** Inputs per face: the mesh's x, y, z in the face's own frame, then a constant. */
export const MESH_MAP_FEATURE_COUNT = MESH_POINT_COUNT * 3 + 1;
const OUTPUT_COUNT = 136;

export interface MeshLandmarkMap {
  /** [MESH_MAP_FEATURE_COUNT × 136] row-major: features → the 68 points' x, y in the face frame. */
  weights: Float32Array;
}

/** iBUG-68 index of each point's mirror image (left ↔ right). */
export const IBUG68_MIRROR: readonly number[] = [
  16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 27, 28, 29, 30, 35, 34, 33, 32, 31, 45, 44, 43, 42, 47, 46,
  39, 38, 37, 36, 41, 40, 54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65,
];

/**
 * The face's frame, from the detector's own 68 points: origin at their centroid, x along the
 * outer eye corners (36 → 45), unit = their RMS distance from the centroid. Scale, turn and shift
 * of the photo drop out, so one map serves faces of every size and place.
 */
interface FaceFrame {
  centre: [number, number];
  scale: number;
  cos: number;
  sin: number;
}

function faceFrame(landmarks68: ArrayLike<number>): FaceFrame {
  let cx = 0,
    cy = 0;
  for (let k = 0; k < 68; k++) {
    cx += landmarks68[2 * k] / 68;
    cy += landmarks68[2 * k + 1] / 68;
  }
  let sum = 0;
  for (let k = 0; k < 68; k++) sum += (landmarks68[2 * k] - cx) ** 2 + (landmarks68[2 * k + 1] - cy) ** 2;
  const scale = Math.sqrt(sum / 68);
  const angle = Math.atan2(landmarks68[91] - landmarks68[73], landmarks68[90] - landmarks68[72]);
  if (!(scale > 0) || !Number.isFinite(angle)) throw invalidParameterError('landmarks68', 'distinct finite points', 'coincident or non-finite points');
  return { centre: [cx, cy], scale, cos: Math.cos(angle), sin: Math.sin(angle) };
}

/** [MESH_MAP_FEATURE_COUNT] the mesh (x, y px; z in the same scale) in the face frame, z about its mean, then 1. */
export function meshMapFeatures(mesh468: ArrayLike<number>, landmarks68: ArrayLike<number>): Float32Array {
  return featuresInFrame(mesh468, faceFrame(landmarks68));
}

function featuresInFrame(mesh468: ArrayLike<number>, { centre, scale, cos, sin }: FaceFrame): Float32Array {
  if (mesh468.length !== MESH_POINT_COUNT * 3) throw invalidParameterError('mesh468', `${MESH_POINT_COUNT * 3} numbers`, mesh468.length);
  let meanZ = 0;
  for (let i = 0; i < MESH_POINT_COUNT; i++) meanZ += mesh468[3 * i + 2] / MESH_POINT_COUNT;
  const features = new Float32Array(MESH_MAP_FEATURE_COUNT);
  for (let i = 0; i < MESH_POINT_COUNT; i++) {
    const dx = mesh468[3 * i] - centre[0],
      dy = mesh468[3 * i + 1] - centre[1];
    features[3 * i] = (cos * dx + sin * dy) / scale;
    features[3 * i + 1] = (-sin * dx + cos * dy) / scale;
    features[3 * i + 2] = (mesh468[3 * i + 2] - meanZ) / scale;
  }
  features[MESH_MAP_FEATURE_COUNT - 1] = 1;
  return features;
}

/** [136] image points (px) in the face frame of `landmarks68`. */
export function pointsToFaceFrame(points68: ArrayLike<number>, landmarks68: ArrayLike<number>): Float32Array {
  const { centre, scale, cos, sin } = faceFrame(landmarks68);
  const out = new Float32Array(OUTPUT_COUNT);
  for (let k = 0; k < 68; k++) {
    const dx = points68[2 * k] - centre[0],
      dy = points68[2 * k + 1] - centre[1];
    out[2 * k] = (cos * dx + sin * dy) / scale;
    out[2 * k + 1] = (-sin * dx + cos * dy) / scale;
  }
  return out;
}

/** [136] the model's 68 landmarks (photo px) the map reads in a face's FaceMesh points. */
export function applyMeshLandmarkMap(map: MeshLandmarkMap, mesh468: ArrayLike<number>, landmarks68: ArrayLike<number>): Float32Array {
  const frame = faceFrame(landmarks68);
  const features = featuresInFrame(mesh468, frame);
  const inFrame = new Float64Array(OUTPUT_COUNT);
  for (let f = 0; f < MESH_MAP_FEATURE_COUNT; f++) {
    const x = features[f];
    if (x === 0) continue;
    const row = f * OUTPUT_COUNT;
    for (let o = 0; o < OUTPUT_COUNT; o++) inFrame[o] += x * map.weights[row + o];
  }
  const { centre, scale, cos, sin } = frame;
  const out = new Float32Array(OUTPUT_COUNT);
  for (let k = 0; k < 68; k++) {
    const u = inFrame[2 * k] * scale,
      v = inFrame[2 * k + 1] * scale;
    out[2 * k] = centre[0] + cos * u - sin * v;
    out[2 * k + 1] = centre[1] + sin * u + cos * v;
  }
  return out;
}

/**
 * [136] the map's 68 points (photo px) from a mesh FaceMesh fitted in a mirrored crop: its points
 * are in photo pixels, so they form the mirror image of a face. Read the map on that mirror image
 * (x negated, a proper face again) and mirror the points back, each to its own name.
 */
export function applyMeshLandmarkMapMirrored(map: MeshLandmarkMap, mirroredMesh468: ArrayLike<number>): Float32Array {
  const reflected = Float32Array.from(mirroredMesh468);
  for (let i = 0; i < reflected.length; i += 3) reflected[i] = -reflected[i];
  const points = applyMeshLandmarkMap(map, reflected, meshToIbug68(reflected));
  const out = new Float32Array(OUTPUT_COUNT);
  for (let k = 0; k < 68; k++) {
    const mirror = IBUG68_MIRROR[k];
    out[2 * k] = -points[2 * mirror];
    out[2 * k + 1] = points[2 * mirror + 1];
  }
  return out;
}

/** Check and wrap the weights of a map file ([MESH_MAP_FEATURE_COUNT × 136] little-endian float32). */
export function decodeMeshLandmarkMap(bytes: Uint8Array, source = 'landmark map'): MeshLandmarkMap {
  const expected = MESH_MAP_FEATURE_COUNT * OUTPUT_COUNT * 4;
  if (bytes.byteLength !== expected) throw invalidParameterError(source, `${expected} bytes of float32 weights`, `${bytes.byteLength} bytes`);
  const weights = new Float32Array(MESH_MAP_FEATURE_COUNT * OUTPUT_COUNT);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < weights.length; i++) {
    const value = view.getFloat32(4 * i, true);
    if (!Number.isFinite(value) || Math.abs(value) > 1e4) throw invalidParameterError(source, 'finite weights of magnitude below 1e4', value);
    weights[i] = value;
  }
  return { weights };
}

/** Little-endian float32 bytes of a map's weights (what decodeMeshLandmarkMap reads). */
export function encodeMeshLandmarkMap(map: MeshLandmarkMap): Uint8Array {
  const bytes = new Uint8Array(map.weights.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < map.weights.length; i++) view.setFloat32(4 * i, map.weights[i], true);
  return bytes;
}

/** One training view of the map: FaceMesh's output on a photo and the model's true 68 landmarks there (px). */
export interface MeshLandmarkMapView {
  mesh468: ArrayLike<number>;
  landmarks68: ArrayLike<number>;
  truth68: ArrayLike<number>;
}

/** The map's weights fitted by ridge regression (weight `lambda`, the constant unpenalised) on these views. */
export function fitMeshLandmarkMap(views: readonly MeshLandmarkMapView[], lambda: number): Float32Array {
  const features = new Float32Array(views.length * MESH_MAP_FEATURE_COUNT);
  const targets = new Float32Array(views.length * 136);
  views.forEach((view, n) => {
    features.set(meshMapFeatures(view.mesh468, view.landmarks68), n * MESH_MAP_FEATURE_COUNT);
    targets.set(pointsToFaceFrame(view.truth68, view.landmarks68), n * 136);
  });
  return fitRidge(features, targets, views.length, lambda, MESH_MAP_FEATURE_COUNT - 1);
}

/**
 * Ridge regression: the W minimising Σ‖x W − y‖² + λ‖W‖² over the rows (the constant's row not
 * penalised). `features` [N × F] and `targets` [N × T] row-major; solved by Cholesky on XᵀX + λI.
 */
export function fitRidge(features: Float32Array, targets: Float32Array, rows: number, lambda: number, constantColumn: number): Float32Array {
  const F = features.length / rows,
    T = targets.length / rows;
  if (!Number.isInteger(F) || !Number.isInteger(T)) throw invalidParameterError('rows', 'a divisor of both arrays', rows);
  const gram = new Float64Array(F * F);
  const right = new Float64Array(F * T);
  for (let n = 0; n < rows; n++) {
    const x = features.subarray(n * F, (n + 1) * F);
    const y = targets.subarray(n * T, (n + 1) * T);
    for (let i = 0; i < F; i++) {
      const xi = x[i];
      if (xi === 0) continue;
      const g = i * F;
      for (let j = i; j < F; j++) gram[g + j] += xi * x[j];
      const r = i * T;
      for (let t = 0; t < T; t++) right[r + t] += xi * y[t];
    }
  }
  for (let i = 0; i < F; i++) {
    for (let j = 0; j < i; j++) gram[i * F + j] = gram[j * F + i];
    if (i !== constantColumn) gram[i * F + i] += lambda;
  }
  // Cholesky: gram = L Lᵀ (lower triangle in place).
  for (let j = 0; j < F; j++) {
    let d = gram[j * F + j];
    for (let k = 0; k < j; k++) d -= gram[j * F + k] ** 2;
    if (!(d > 0)) throw new RangeError(`ridge system not positive definite at column ${j}: raise lambda or add rows`);
    const l = Math.sqrt(d);
    gram[j * F + j] = l;
    for (let i = j + 1; i < F; i++) {
      let s = gram[i * F + j];
      for (let k = 0; k < j; k++) s -= gram[i * F + k] * gram[j * F + k];
      gram[i * F + j] = s / l;
    }
  }
  // Solve L z = b, then Lᵀ w = z, for every target column at once.
  for (let i = 0; i < F; i++) {
    for (let k = 0; k < i; k++) {
      const l = gram[i * F + k];
      if (l === 0) continue;
      for (let t = 0; t < T; t++) right[i * T + t] -= l * right[k * T + t];
    }
    for (let t = 0; t < T; t++) right[i * T + t] /= gram[i * F + i];
  }
  for (let i = F - 1; i >= 0; i--) {
    for (let k = i + 1; k < F; k++) {
      const l = gram[k * F + i];
      if (l === 0) continue;
      for (let t = 0; t < T; t++) right[i * T + t] -= l * right[k * T + t];
    }
    for (let t = 0; t < T; t++) right[i * T + t] /= gram[i * F + i];
  }
  return Float32Array.from(right);
}
