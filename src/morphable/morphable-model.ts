/**
 * A linear morphable face model: vertices = neutral + identityBasis·identity + expressionBasis·expression.
 * All positions in millimetres, model space (right-handed, +y up, the face looks towards +z).
 *
 * Storage order (stated once): a basis is mode-major, `basis[mode * V * 3 + vertex * 3 + axis]`,
 * so one mode is one contiguous [V, 3] block.
 */
export interface MorphableModel {
  /** Source and version, e.g. "ict-facekit-light (face area)". */
  name: string;
  vertexCount: number;
  /** [V*3] mm. */
  neutral: Float32Array;
  identityCount: number;
  /** [identityCount * V * 3] mm per unit coefficient (coefficients ~ N(0, 1)). */
  identityBasis: Float32Array;
  expressionNames: string[];
  /** [expressionCount * V * 3] mm per unit weight (weights in [0, 1], ARKit-style blendshapes). */
  expressionBasis: Float32Array;
  /** [F*3] counter-clockwise seen from outside; quads are split into two triangles. */
  triangles: Uint32Array;
  /** [T*2] texture coordinates, OBJ convention (origin bottom-left). */
  uvs: Float32Array;
  /** [F*3] indices into `uvs`, parallel to `triangles` (UV seams need their own indices). */
  triangleUvIndices: Uint32Array;
  /** [68] vertex indices of the iBUG / Multi-PIE 68 landmarks. */
  landmarkVertexIndices: Uint32Array;
  /** Vertices [0, narrowFaceVertexCount) are the narrow face area (no ears, neck or scalp edge). */
  narrowFaceVertexCount: number;
}

export function expressionCount(model: MorphableModel): number {
  return model.expressionNames.length;
}

/**
 * Evaluate the model for given coefficients into `target` ([V*3] mm). Plain JS, for export and
 * tests; the fitting code evaluates the same sum with tensors.
 */
export function evaluateMorphableModel(
  model: MorphableModel,
  identity: ArrayLike<number>,
  expression: ArrayLike<number>,
  target: Float32Array = new Float32Array(model.vertexCount * 3),
): Float32Array {
  const size = model.vertexCount * 3;
  target.set(model.neutral);
  addModes(target, model.identityBasis, identity, size);
  addModes(target, model.expressionBasis, expression, size);
  return target;
}

/** Add Σ weights[m] · basis[m] to `target` in place; each basis mode is `size` values long. */
export function addModes(target: Float32Array, basis: Float32Array, weights: ArrayLike<number>, size: number = target.length): void {
  for (let mode = 0; mode < weights.length; mode++) {
    const weight = weights[mode];
    if (weight === 0) continue;
    const offset = mode * size;
    for (let i = 0; i < size; i++) target[i] += weight * basis[offset + i];
  }
}

/** The ids of triangles whose three vertices all lie below `vertexLimit` (e.g. the narrow face area). */
export function trianglesWithinVertexRange(triangles: Uint32Array, vertexLimit: number): Uint32Array {
  const kept: number[] = [];
  for (let t = 0; t < triangles.length; t += 3) {
    if (triangles[t] < vertexLimit && triangles[t + 1] < vertexLimit && triangles[t + 2] < vertexLimit) {
      kept.push(triangles[t], triangles[t + 1], triangles[t + 2]);
    }
  }
  return Uint32Array.from(kept);
}
