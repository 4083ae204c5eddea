import { ModelUnavailableError } from '../common/errors.ts';
import type { MorphableModel } from './morphable-model.ts';

/**
 * Bounds on a model read from files (a user's folder, a download, a `?model=` URL): sizes past
 * these are a damaged or hostile file, not a face model (ICT-FaceKit's face area: 9,409
 * vertices, 100 identity modes, 53 expressions), and allocating them could take gigabytes.
 */
export const MODEL_LIMITS = {
  maxVertices: 1_000_000,
  maxModes: 1000,
  maxExpressions: 256,
} as const;

/** Which file to name in messages about each part (a model folder's files; default: one label for all). */
export interface ModelPartLabels {
  mesh?: string;
  landmarks?: string;
}

/**
 * Check that every count is in bounds and every index points inside its array: triangles into
 * the vertices, UV indices into the UVs, the 68 landmarks into the vertices, and that there are
 * triangles at all. Throws ModelUnavailableError (exit 6) naming the part. Returns the model.
 */
export function validateMorphableModel(model: MorphableModel, label: string, parts: ModelPartLabels = {}): MorphableModel {
  const mesh = parts.mesh ?? label,
    landmarks = parts.landmarks ?? label;
  const fail = (where: string, why: string): never => {
    throw new ModelUnavailableError(`${where}: ${why} (damaged or not a face model)`);
  };
  const V = model.vertexCount;
  if (!Number.isInteger(V) || V < 3 || V > MODEL_LIMITS.maxVertices) fail(label, `${V} vertices, expected 3 to ${MODEL_LIMITS.maxVertices}`);
  if (!Number.isInteger(model.identityCount) || model.identityCount < 0 || model.identityCount > MODEL_LIMITS.maxModes)
    fail(label, `${model.identityCount} identity modes, expected at most ${MODEL_LIMITS.maxModes}`);
  if (model.expressionNames.length > MODEL_LIMITS.maxExpressions)
    fail(label, `${model.expressionNames.length} expressions, expected at most ${MODEL_LIMITS.maxExpressions}`);
  if (!Number.isInteger(model.narrowFaceVertexCount) || model.narrowFaceVertexCount < 1 || model.narrowFaceVertexCount > V)
    fail(label, `narrow face area of ${model.narrowFaceVertexCount} vertices, outside 1–${V}`);
  const { triangles, triangleUvIndices, uvs } = model;
  if (triangles.length === 0 || triangles.length % 3 !== 0) fail(mesh, `${triangles.length / 3} triangles: the mesh has no faces`);
  if (triangleUvIndices.length !== triangles.length) fail(mesh, `${triangleUvIndices.length} UV corners for ${triangles.length} triangle corners`);
  const badVertex = firstAtOrAbove(triangles, V);
  if (badVertex >= 0) fail(mesh, `triangle ${Math.floor(badVertex / 3)} uses vertex ${triangles[badVertex]}, outside the ${V} vertices`);
  const badUv = firstAtOrAbove(triangleUvIndices, Math.floor(uvs.length / 2));
  if (badUv >= 0)
    fail(mesh, `triangle ${Math.floor(badUv / 3)} uses texture coordinate ${triangleUvIndices[badUv]}, outside the ${Math.floor(uvs.length / 2)}`);
  if (model.landmarkVertexIndices.length !== 68) fail(landmarks, `${model.landmarkVertexIndices.length} landmarks, expected 68`);
  const badLandmark = firstAtOrAbove(model.landmarkVertexIndices, V);
  if (badLandmark >= 0) fail(landmarks, `landmark ${badLandmark} is vertex ${model.landmarkVertexIndices[badLandmark]}, outside the ${V} vertices`);
  return model;
}

function firstAtOrAbove(values: Uint32Array, limit: number): number {
  for (let i = 0; i < values.length; i++) if (values[i] >= limit) return i;
  return -1;
}
