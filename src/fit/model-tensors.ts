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
