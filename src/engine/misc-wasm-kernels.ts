// Other kernels the wasm backend lacks or runs slowly, expressed with fast wasm ops.
import * as tf from '@tensorflow/tfjs-core';
import { asTensor } from './kernel-helpers.ts';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: tf.KernelBackend };

/**
 * Sum of x's rows grouped by segment id (the gradient of gather). x: [n, ...rest],
 * segmentIds: [n] int32 (or any shape matching x's leading axes); returns
 * [numSegments, ...rest]. Ids outside [0, numSegments) are dropped, as in TensorFlow.
 */
function unsortedSegmentSum({ inputs, attrs }: KernelArgs): tf.TensorInfo {
  const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
  return tf.tidy(() => {
    const x = asTensor(inputs.x);
    const ids = tf.reshape(asTensor(inputs.segmentIds), [-1]);
    const rows = ids.shape[0];
    const rest = x.shape.slice(asTensor(inputs.segmentIds).rank);
    // wasm's ScatterNd sums duplicate indices; out-of-range ids go to a spare row cut off after.
    const inRange = tf.logicalAnd(tf.greaterEqual(ids, 0), tf.less(ids, numSegments));
    const target = tf.where(inRange, ids, tf.fill([rows], numSegments, 'int32'));
    const sums = tf.scatterND(tf.reshape(target, [rows, 1]), tf.reshape(x, [rows, ...rest]), [numSegments + 1, ...rest]);
    return tf.slice(sums, 0, numSegments);
  });
}

/** Below this many multiply-adds wasm's transposed matMul is fine; above, transpose first. */
const EXPLICIT_TRANSPOSE_MIN_MACS = 1 << 21;

/**
 * Wrap wasm's BatchMatMul / _FusedMatMul so that large products with transposeA/transposeB
 * transpose the operand once and run the plain (fast) product, e.g. [576, 4096]ᵀ·[4096, 64]:
 * 188 ms transposed vs 58 ms transpose + plain (measured on this machine).
 */
function withExplicitTranspose(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args as unknown as KernelArgs;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const a = inputs.a!, b = inputs.b!;
    const aRank = a.shape.length, bRank = b.shape.length;
    const outer = transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2];
    const inner = transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1];
    const right = transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1];
    const batch = Math.max(tf.util.sizeFromShape(a.shape.slice(0, -2)), tf.util.sizeFromShape(b.shape.slice(0, -2)));
    if ((!transposeA && !transposeB) || batch * outer * inner * right < EXPLICIT_TRANSPOSE_MIN_MACS) {
      return original(args);
    }
    const swapLast = (t: tf.Tensor) => tf.transpose(t, [...t.shape.keys()].map((i, _, all) =>
      i < all.length - 2 ? i : i === all.length - 2 ? all.length - 1 : all.length - 2));
    const transposed = tf.tidy(() => ({
      a: transposeA ? swapLast(asTensor(a)) : undefined,
      b: transposeB ? swapLast(asTensor(b)) : undefined,
    }));
    try {
      return original({
        inputs: { ...inputs, a: transposed.a ?? a, b: transposed.b ?? b },
        attrs: { ...attrs, transposeA: false, transposeB: false },
        backend,
      });
    } finally {
      transposed.a?.dispose();
      transposed.b?.dispose();
    }
  };
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum, backendName: 'wasm', kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};

/** Replacement configs for wasm's matMul kernels, wrapping the registered originals. */
export function explicitTransposeMatMulConfigs(): tf.KernelConfig[] {
  const configs: tf.KernelConfig[] = [];
  for (const kernelName of [tf.BatchMatMul, tf._FusedMatMul]) {
    const original = tf.getKernel(kernelName, 'wasm');
    if (original === undefined) continue;
    configs.push({ ...original, kernelFunc: withExplicitTranspose(original.kernelFunc) });
  }
  return configs;
}
