import * as tf from '@tensorflow/tfjs-core';
import type { MorphableModel } from '../morphable/morphable-model.ts';

/**
 * The morphable model as tensors for fitting, built once per model and reused across photos.
 * Coefficients are one vector c = [identity (K) | expression (E)], and
 *   vertices [V, 3] = neutral + reshape(basis · c, [V, 3]).
 */
export class ModelTensors {
  readonly model: MorphableModel;
  readonly identityCount: number;
  readonly expressionCount: number;
  /** [V, 3] mm. */
  readonly neutral: tf.Tensor2D;
  /** [V*3, K+E], vertex-major rows. */
  readonly basis: tf.Tensor2D;
  /** The same for the narrow face area only (its vertices come first): what the photometric stage renders. */
  readonly narrowNeutral: tf.Tensor2D;
  readonly narrowBasis: tf.Tensor2D;

  constructor(model: MorphableModel) {
    this.model = model;
    this.identityCount = model.identityCount;
    this.expressionCount = model.expressionNames.length;
    const V = model.vertexCount;
    const modes = this.identityCount + this.expressionCount;
    const rows = new Float32Array(V * 3 * modes);
    const transposeInto = (basis: Float32Array, count: number, firstColumn: number) => {
      for (let mode = 0; mode < count; mode++) {
        const offset = mode * V * 3;
        const column = firstColumn + mode;
        for (let i = 0; i < V * 3; i++) rows[i * modes + column] = basis[offset + i];
      }
    };
    transposeInto(model.identityBasis, this.identityCount, 0);
    transposeInto(model.expressionBasis, this.expressionCount, this.identityCount);
    this.neutral = tf.tensor2d(model.neutral, [V, 3]);
    this.basis = tf.tensor2d(rows, [V * 3, modes]);
    const narrow = model.narrowFaceVertexCount;
    this.narrowNeutral = tf.tensor2d(model.neutral.subarray(0, narrow * 3), [narrow, 3]);
    this.narrowBasis = tf.tensor2d(rows.subarray(0, narrow * 3 * modes), [narrow * 3, modes]);
  }

  /** Vertices [V, 3] mm for coefficients [K+E]; `narrow` gives only the narrow face area's. */
  vertices(coefficients: tf.Tensor1D, region: 'full' | 'narrow' = 'full'): tf.Tensor2D {
    const [neutral, basis] = region === 'full' ? [this.neutral, this.basis] : [this.narrowNeutral, this.narrowBasis];
    return tf.tidy(() => tf.add(neutral, tf.reshape(tf.matMul(basis, tf.reshape(coefficients, [-1, 1])), [-1, 3])) as tf.Tensor2D);
  }

  dispose(): void {
    tf.dispose([this.neutral, this.basis, this.narrowNeutral, this.narrowBasis]);
  }
}

/**
 * The neutral positions [N*3] and basis rows [N*3, K+E] (vertex-major, identity then expression
 * columns) of a few vertices, straight from the model's mode-major arrays: what landmark terms
 * need without the full [V*3, K+E] matrix.
 */
export function modelRowsForVertices(model: MorphableModel, vertices: ArrayLike<number>): { neutral: Float32Array; rows: Float32Array } {
  const V = model.vertexCount;
  const K = model.identityCount,
    E = model.expressionNames.length;
  const neutral = new Float32Array(vertices.length * 3);
  const rows = new Float32Array(vertices.length * 3 * (K + E));
  for (let k = 0; k < vertices.length; k++) {
    for (let axis = 0; axis < 3; axis++) {
      const element = vertices[k] * 3 + axis;
      const row = (k * 3 + axis) * (K + E);
      neutral[k * 3 + axis] = model.neutral[element];
      for (let m = 0; m < K; m++) rows[row + m] = model.identityBasis[m * V * 3 + element];
      for (let m = 0; m < E; m++) rows[row + K + m] = model.expressionBasis[m * V * 3 + element];
    }
  }
  return { neutral, rows };
}
