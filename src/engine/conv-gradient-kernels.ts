// Convolution gradient kernels for the wasm backend, built from ops wasm runs fast.
// Conv2DBackpropInput: stride 1 on the engine's SIMD kernel (~1.3× XNNPACK's rate), else a
// stride-1 XNNPACK convolution of zero-dilated dy with the flipped, in/out-swapped filter
// (~10× faster than wasm's own kernel). Conv2DBackpropFilter
// (absent on wasm): one plain matMul per filter tap of a contiguous window of the
// channels-first input with dy (matMul with transposeA is ~13× slower on wasm, and an
// im2col concat costs as much as the products).
import * as tf from '@tensorflow/tfjs-core';
import { asTensor, convolutionInfo, requireChannelsLast, transposedConvolutionInput } from './kernel-helpers.ts';
import { conv2dBackpropFilterSimd, conv2dBackpropInputSimd, type WasmHeapAccess } from './simd-kernels.ts';

/**
 * dx of a 2-D convolution. dy: [N, outH, outW, Cout] float32, filter: [kh, kw, Cin, Cout];
 * returns [N, H, W, Cin] = attrs.inputShape. Strides any, dilation 1, NHWC. Stride 1 runs on
 * the SIMD kernel where it can (Cin a multiple of 4), the rest as a transposed XNNPACK conv.
 */
function conv2dBackpropInput({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: tf.KernelBackend }): tf.TensorInfo {
  const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  requireChannelsLast('Conv2DBackpropInput', a.dataFormat);
  const info = convolutionInfo(a.inputShape, inputs.filter!.shape as [number, number, number, number], a, false);
  if (info.strideHeight === 1 && info.strideWidth === 1) {
    const simd = conv2dBackpropInputSimd(backend as unknown as WasmHeapAccess, inputs.dy!, inputs.filter!, {
      batch: info.batchSize,
      inHeight: info.inHeight,
      inWidth: info.inWidth,
      inChannels: info.inChannels,
      outHeight: info.outHeight,
      outWidth: info.outWidth,
      outChannels: info.outChannels,
      filterHeight: info.filterHeight,
      filterWidth: info.filterWidth,
      padTop: info.padInfo.top,
      padLeft: info.padInfo.left,
    });
    if (simd !== null) return simd;
  }
  return tf.tidy(() => {
    const dy = asTensor<tf.Rank.R4>(inputs.dy);
    const filter = asTensor<tf.Rank.R4>(inputs.filter);
    const { x, padding } = transposedConvolutionInput(dy, info);
    return tf.conv2d(x, flippedFilter(backend as unknown as WasmHeapAccess, filter), 1, padding);
  });
}

/**
 * [kh, kw, Cin, Cout] → flipped in both spatial axes, as [kh, kw, Cout, Cin], in one pass
 * over the heap (wasm's Reverse + Transpose take ~1.5 ms for a 3×3×64×64 filter, this ~0.1 ms).
 * Call inside a tidy: the result is a tracked tensor.
 */
function flippedFilter(backend: WasmHeapAccess, filter: tf.Tensor4D): tf.Tensor4D {
  if (filter.dtype !== 'float32') return tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
  const [kh, kw, cin, cout] = filter.shape;
  const out = backend.makeOutput([kh, kw, cout, cin], 'float32');
  // Views after makeOutput: growing the heap there detaches older ones.
  const source = backend.typedArrayFromHeap(filter),
    target = backend.typedArrayFromHeap(out);
  for (let r = 0; r < kh; r++) {
    for (let c = 0; c < kw; c++) {
      const from = ((kh - 1 - r) * kw + (kw - 1 - c)) * cin * cout,
        to = (r * kw + c) * cout * cin;
      for (let i = 0; i < cin; i++) {
        for (let o = 0; o < cout; o++) target[to + o * cin + i] = source[from + i * cout + o]!;
      }
    }
  }
  return asTensor<tf.Rank.R4>(out);
}

/**
 * dW of a 2-D convolution. x: [N, H, W, Cin], dy: [N, outH, outW, Cout] float32;
 * returns attrs.filterShape = [kh, kw, Cin, Cout]. Strides any, dilation 1, NHWC.
 *
 * dW[a, b] = Σ_pixels x_window(a, b)ᵀ · dy, one plain matMul per filter tap. The padded input,
 * split into its stride phases and transposed once to channels-first, is laid out with dy on
 * one flat grid per phase, so every tap's window is a contiguous range of that grid (a cheap
 * row copy, no im2col concat) and dy is zero wherever the range reaches past a valid pixel.
 */
function conv2dBackpropFilter({
  inputs,
  attrs,
  backend,
}: {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: tf.KernelBackend;
}): tf.TensorInfo {
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  requireChannelsLast('Conv2DBackpropFilter', a.dataFormat);
  const info = convolutionInfo(inputs.x!.shape as [number, number, number, number], a.filterShape, a, false);
  const simd = conv2dBackpropFilterSimd(backend as unknown as WasmHeapAccess, inputs.x!, inputs.dy!, {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  });
  if (simd !== null) return simd;
  return tf.tidy(() => {
    const x = asTensor<tf.Rank.R4>(inputs.x);
    const dy = asTensor<tf.Rank.R4>(inputs.dy);
    const grid = phaseGrid(info);
    const { phases, length } = inputPhases(x, info, grid);
    const dyOnGrid = tf.reshape(
      tf.pad(dy, [
        [0, 0],
        [0, grid.height - info.outHeight],
        [0, grid.width - info.outWidth],
        [0, 0],
      ]),
      [length, info.outChannels],
    );
    // Every window is `length − maxOffset` long; dy is zero past that (see phaseGrid).
    const used = length - grid.maxOffset;
    const dyUsed = used === length ? dyOnGrid : tf.slice(dyOnGrid, [0, 0], [used, -1]);
    const taps: tf.Tensor2D[] = [];
    for (let r = 0; r < info.filterHeight; r++) {
      for (let c = 0; c < info.filterWidth; c++) {
        const phase = (r % info.strideHeight) * info.strideWidth + (c % info.strideWidth);
        const offset = Math.floor(r / info.strideHeight) * grid.width + Math.floor(c / info.strideWidth);
        const window = tf.reshape(tf.slice(phases, [phase, 0, offset], [1, info.inChannels, used]), [info.inChannels, used]);
        taps.push(tf.matMul(window, dyUsed));
        window.dispose(); // keep at most one window alive: each is as large as the input
      }
    }
    return tf.reshape(tf.stack(taps), a.filterShape);
  });
}

/** Size of one stride phase of the padded input, as laid out for conv2dBackpropFilter. */
interface PhaseGrid {
  height: number;
  width: number;
  maxOffset: number;
}

/**
 * Rows/columns per phase: enough for the input and for every output pixel shifted by the
 * largest tap offset. Then a valid pixel's shifted index stays inside its own sample, and the
 * last valid pixel lies before `length − maxOffset`, so every window can have that length.
 */
function phaseGrid(info: tf.backend_util.Conv2DInfo): PhaseGrid {
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, padInfo } = info;
  const maxRowShift = Math.floor((kh - 1) / sh),
    maxColumnShift = Math.floor((kw - 1) / sw);
  const paddedHeight = info.inHeight + padInfo.top + Math.max(0, padInfo.bottom);
  const paddedWidth = info.inWidth + padInfo.left + Math.max(0, padInfo.right);
  const height = Math.max(Math.ceil(paddedHeight / sh), info.outHeight + maxRowShift);
  const width = Math.max(Math.ceil(paddedWidth / sw), info.outWidth + maxColumnShift);
  return { height, width, maxOffset: maxRowShift * width + maxColumnShift };
}

/**
 * x: [N, H, W, Cin] → phases [sh·sw, Cin, N·grid.height·grid.width]: the zero-padded input's
 * pixels (p + sh·i, q + sw·j) at (phase p·sw + q, channel, flat (n, i, j)).
 */
function inputPhases(x: tf.Tensor4D, info: tf.backend_util.Conv2DInfo, grid: PhaseGrid) {
  const { strideHeight: sh, strideWidth: sw, inChannels: channels, padInfo } = info;
  const [n, h, w] = x.shape;
  const length = n * grid.height * grid.width;
  const padded = tf.pad(tf.transpose(x, [3, 0, 1, 2]), [
    [0, 0],
    [0, 0],
    [padInfo.top, grid.height * sh - h - padInfo.top],
    [padInfo.left, grid.width * sw - w - padInfo.left],
  ]);
  if (sh === 1 && sw === 1) return { phases: tf.reshape(padded, [1, channels, length]), length };
  const split = tf.reshape(padded, [channels, n, grid.height, sh, grid.width, sw]);
  return { phases: tf.reshape(tf.transpose(split, [3, 5, 0, 1, 2, 4]), [sh * sw, channels, length]), length };
}

export const conv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropInput as unknown as tf.KernelFunc,
};
export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilter as unknown as tf.KernelFunc,
};
