// Other kernels the wasm backend lacks or runs slowly, expressed with fast wasm ops.
import * as tf from '@tensorflow/tfjs-core';
import { asTensor } from './kernel-helpers.ts';
import { sumMiddleAxisSimd, type WasmHeapAccess } from './simd-kernels.ts';

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
    const a = inputs.a!,
      b = inputs.b!;
    const aRank = a.shape.length,
      bRank = b.shape.length;
    const outer = transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2];
    const inner = transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1];
    const right = transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1];
    const batch = Math.max(tf.util.sizeFromShape(a.shape.slice(0, -2)), tf.util.sizeFromShape(b.shape.slice(0, -2)));
    if ((!transposeA && !transposeB) || batch * outer * inner * right < EXPLICIT_TRANSPOSE_MIN_MACS) {
      return original(args);
    }
    const swapLast = (t: tf.Tensor) =>
      tf.transpose(
        t,
        [...t.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : i === all.length - 2 ? all.length - 1 : all.length - 2)),
      );
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

/**
 * Slice without the copy of the whole input that wasm's own kernel makes (it reads x through
 * readSync, which copies the heap: ~3 ms for a 4 MB input vs ~0.2 ms for the slice itself).
 * Copies runs of the contiguous trailing block straight between heap views.
 */
function wrapSlice(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args as unknown as KernelArgs;
    const x = inputs.x!;
    if (x.dtype === 'string') return original(args);
    const { begin, size } = attrs as unknown as tf.SliceAttrs;
    const [start, extent] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    const wasm = backend as unknown as WasmHeapAccess;
    const out = wasm.makeOutput(extent, x.dtype);
    const total = tf.util.sizeFromShape(extent);
    if (total === 0) return out;
    // Read both views after makeOutput: growing the heap there detaches older views.
    const source = wasm.typedArrayFromHeap(x),
      target = wasm.typedArrayFromHeap(out);
    const strides = [...tf.util.computeStrides(x.shape), 1];
    // The trailing axes that the slice takes whole (plus the first partial one) form one run.
    let inner = x.shape.length - 1;
    while (inner > 0 && extent[inner] === x.shape[inner]) inner--;
    const run = extent.slice(inner).reduce((a, b) => a * b, 1);
    const outer = extent.slice(0, inner);
    const index = new Array<number>(inner).fill(0);
    const base = start.reduce((sum, s, axis) => sum + s * strides[axis]!, 0);
    for (let written = 0; written < total; written += run) {
      let offset = base;
      for (let axis = 0; axis < inner; axis++) offset += index[axis]! * strides[axis]!;
      target.set(source.subarray(offset, offset + run), written);
      for (let axis = inner - 1; axis >= 0; axis--) {
        if (++index[axis]! < outer[axis]!) break;
        index[axis] = 0;
      }
    }
    return out;
  };
}

/**
 * LeakyRelu as relu(x) + (−alpha)·relu(−x): five SIMD element-wise passes (~1 ms for 1M
 * floats) instead of wasm's own kernel (~5.5 ms). Same values (±∞ included): one of the two
 * terms is exactly zero and negation is exact.
 */
function leakyRelu({ inputs, attrs }: KernelArgs): tf.TensorInfo {
  const { alpha } = attrs as unknown as tf.LeakyReluAttrs;
  return tf.tidy(() => {
    const x = asTensor(inputs.x);
    return tf.add(tf.relu(x), tf.mul(tf.relu(tf.neg(x)), tf.scalar(-alpha, x.dtype)));
  });
}

export const leakyReluConfig: tf.KernelConfig = {
  kernelName: tf.LeakyRelu,
  backendName: 'wasm',
  kernelFunc: leakyRelu as unknown as tf.KernelFunc,
};

/** Replacement config for wasm's Slice, wrapping the registered original (kept for strings). */
export function fastSliceConfigs(): tf.KernelConfig[] {
  const original = tf.getKernel(tf.Slice, 'wasm');
  return original === undefined ? [] : [{ ...original, kernelFunc: wrapSlice(original.kernelFunc) }];
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
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

/** Below this many values wasm's own Sum is fine (the copy into the SIMD module would dominate). */
const FAST_SUM_MIN_VALUES = 1 << 12;

/**
 * x's shape as [outer, middle, inner] where `middle` covers exactly the reduced axes, or null
 * when the reduced axes (ignoring size-1 ones) are not one contiguous block.
 */
export function reductionBlock(shape: number[], axes: number[]): { outer: number; middle: number; inner: number } | null {
  const reduced = new Set(axes);
  const dims = shape.map((size, axis) => ({ size, reduced: reduced.has(axis) })).filter((d) => d.size !== 1);
  const first = dims.findIndex((d) => d.reduced);
  if (first < 0) return null;
  let last = first;
  while (last + 1 < dims.length && dims[last + 1]!.reduced) last++;
  if (dims.slice(last + 1).some((d) => d.reduced)) return null;
  const product = (part: typeof dims) => part.reduce((p, d) => p * d.size, 1);
  return { outer: product(dims.slice(0, first)), middle: product(dims.slice(first, last + 1)), inner: product(dims.slice(last + 1)) };
}

/**
 * Sum over leading or middle axes (the gradient of a broadcast bias or per-channel scale,
 * e.g. [1, 128, 128, 64] → [64]) on the SIMD kernel: wasm's own Sum transposes the reduced
 * axes to the end first (~7 ms for that shape on this machine). Other sums go to the original.
 */
function wrapSum(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args as unknown as KernelArgs;
    const x = inputs.x!;
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    if (x.dtype !== 'float32' || tf.util.sizeFromShape(x.shape) < FAST_SUM_MIN_VALUES) return original(args);
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const block = reductionBlock(x.shape, axes);
    if (block === null || block.inner === 1) return original(args); // innermost sums need no transpose
    const outShape = keepDims ? x.shape.map((size, i) => (axes.includes(i) ? 1 : size)) : x.shape.filter((_, i) => !axes.includes(i));
    return sumMiddleAxisSimd(backend as unknown as WasmHeapAccess, x, block.outer, block.middle, block.inner, outShape) ?? original(args);
  };
}

/** Replacement config for wasm's Sum, wrapping the registered original. */
export function fastSumConfigs(): tf.KernelConfig[] {
  const original = tf.getKernel(tf.Sum, 'wasm');
  return original === undefined ? [] : [{ ...original, kernelFunc: wrapSum(original.kernelFunc) }];
}
