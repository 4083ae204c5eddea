import * as tf from '@tensorflow/tfjs-core';
import type { MorphableModel } from '../morphable/morphable-model.ts';

/**
 * The morphable model restricted to some vertices, as tensors: vertices [S, 3] =
 * neutral + reshape(basis · c, [S, 3]) for coefficients c = [identity K | expression E].
 * (fit/model-tensors.ts holds the same for the whole model; invert/ sits above fit/.)
 */
export class ShapeBasis {
  readonly vertexIndices: Uint32Array;
  /** [S, 3] mm. */
  readonly neutral: tf.Tensor2D;
  /** [S*3, K+E]. */
  readonly basis: tf.Tensor2D;

  constructor(model: MorphableModel, vertexIndices: Uint32Array) {
    this.vertexIndices = vertexIndices;
    const K = model.identityCount,
      E = model.expressionNames.length,
      modes = K + E,
      V = model.vertexCount;
    const S = vertexIndices.length;
    const neutral = new Float32Array(S * 3);
    const rows = new Float32Array(S * 3 * modes);
    for (let s = 0; s < S; s++) {
      for (let a = 0; a < 3; a++) {
        const source = 3 * vertexIndices[s] + a,
          row = 3 * s + a;
        neutral[row] = model.neutral[source];
        for (let k = 0; k < K; k++) rows[row * modes + k] = model.identityBasis[k * V * 3 + source];
        for (let e = 0; e < E; e++) rows[row * modes + K + e] = model.expressionBasis[e * V * 3 + source];
      }
    }
    this.neutral = tf.tensor2d(neutral, [S, 3]);
    this.basis = tf.tensor2d(rows, [S * 3, modes]);
  }

  /** coefficients [K+E] → vertices [S, 3] mm. */
  vertices(coefficients: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => tf.add(this.neutral, tf.reshape(tf.matMul(this.basis, tf.reshape(coefficients, [-1, 1])), [-1, 3])) as tf.Tensor2D);
  }

  /** coefficients [N, K+E] → vertices [N, S, 3] mm. */
  verticesBatch(coefficients: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const n = coefficients.shape[0];
      const offsets = tf.transpose(tf.matMul(this.basis, coefficients, false, true)); // [N, S*3]
      return tf.add(tf.expandDims(this.neutral, 0), tf.reshape(offsets, [n, -1, 3])) as tf.Tensor3D;
    });
  }

  dispose(): void {
    tf.dispose([this.neutral, this.basis]);
  }
}

/** `count` distinct vertices of [0, limit), drawn with `next` (uniform in [0, 1)), sorted. */
export function subsampleVertices(limit: number, count: number, next: () => number): Uint32Array {
  const all = Uint32Array.from({ length: limit }, (_, i) => i);
  const n = Math.min(count, limit);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(next() * (limit - i));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, n).sort();
}
