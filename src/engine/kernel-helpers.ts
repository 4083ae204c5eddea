// Building blocks shared by the wasm gradient kernels: they express a missing kernel as a
// few ops that the wasm backend runs fast (XNNPACK convolutions, plain matMul, copies).
import * as tf from '@tensorflow/tfjs-core';

/**
 * A kernel's inputs arrive as Tensors when called through ops, but may be bare TensorInfos
 * when another kernel calls them; ops need Tensors. A wrapper made here is tracked by the
 * engine, so call this inside the kernel's `tf.tidy` and it is released with the scope.
 */
export function asTensor<R extends tf.Rank = tf.Rank>(info: tf.TensorInfo | undefined): tf.Tensor<R> {
  if (info === undefined) throw new Error('kernel input missing');
  if (info instanceof tf.Tensor) return info as tf.Tensor<R>;
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor<R>;
}

/** Normalise a stride/dilation attribute to [height, width]. */
export function pair(value: number | [number, number]): [number, number] {
  return typeof value === 'number' ? [value, value] : value;
}

/**
 * Insert `stride − 1` zero rows/columns after every row/column of an NHWC tensor, so that
 * a strided convolution's transpose becomes a stride-1 convolution.
 * x: [N, H, W, C] → [N, H·strideH, W·strideW, C] (trailing zeros included).
 */
/** Attributes every convolution gradient kernel reads to rebuild its forward convolution's geometry. */
export interface ConvolutionGeometryAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The forward convolution's geometry (NHWC, dilation 1) from a gradient kernel's attributes. */
export function convolutionInfo(
  inputShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: ConvolutionGeometryAttrs,
  depthwise: boolean,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(inputShape, filterShape, pair(attrs.strides), 1, attrs.pad, attrs.dimRoundingMode, depthwise, 'channelsLast');
}

export function dilateWithZeros(x: tf.Tensor4D, strideH: number, strideW: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  let y: tf.Tensor = x;
  if (strideW > 1) {
    y = tf.pad(tf.reshape(y, [n, h, w, 1, c]), [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, strideW - 1],
      [0, 0],
    ]);
  }
  if (strideH > 1) {
    y = tf.pad(tf.reshape(y, [n, h, 1, w * strideW, c]), [
      [0, 0],
      [0, 0],
      [0, strideH - 1],
      [0, 0],
      [0, 0],
    ]);
  }
  return tf.reshape(y, [n, h * strideH, w * strideW, c]);
}

/**
 * Pad (positive amounts) or crop (negative amounts) the two spatial axes of an NHWC tensor.
 * Returns the tensor and the non-negative padding still to apply, so a convolution can take
 * it as explicit padding instead of paying for a padded copy.
 */
export function cropForPadding(
  x: tf.Tensor4D,
  top: number,
  bottom: number,
  left: number,
  right: number,
): { x: tf.Tensor4D; padding: [[0, 0], [number, number], [number, number], [0, 0]] } {
  const [, h, w] = x.shape;
  const cropTop = Math.max(0, -top),
    cropBottom = Math.max(0, -bottom);
  const cropLeft = Math.max(0, -left),
    cropRight = Math.max(0, -right);
  const cropped =
    cropTop + cropBottom + cropLeft + cropRight === 0
      ? x
      : tf.slice(x, [0, cropTop, cropLeft, 0], [-1, h - cropTop - cropBottom, w - cropLeft - cropRight, -1]);
  return {
    x: cropped,
    padding: [
      [0, 0],
      [Math.max(0, top), Math.max(0, bottom)],
      [Math.max(0, left), Math.max(0, right)],
      [0, 0],
    ],
  };
}

/**
 * The input of a stride-1 'valid' correlation that computes the transpose of the strided
 * convolution described by `info` (the gradient of its output with respect to its input):
 * dy zero-dilated by the strides, then cropped/padded so the result has the input's size.
 * dy: [N, outH, outW, C] → { x, padding } ready for a filter flipped in both spatial axes.
 */
export function transposedConvolutionInput(dy: tf.Tensor4D, info: tf.backend_util.Conv2DInfo) {
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, padInfo } = info;
  const dilated = dilateWithZeros(dy, sh, sw);
  const top = kh - 1 - padInfo.top;
  const left = kw - 1 - padInfo.left;
  const bottom = info.inHeight + kh - 1 - top - dilated.shape[1];
  const right = info.inWidth + kw - 1 - left - dilated.shape[2];
  return cropForPadding(dilated, top, bottom, left, right);
}

/** Throw for a layout the kernels here do not handle (the error names the kernel). */
export function requireChannelsLast(kernelName: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernelName} on wasm supports NHWC only, got ${dataFormat}`);
  }
}

/** Throw for dilations other than 1 (tfjs gradients do not produce them either). */
export function requireNoDilation(kernelName: string, dilations: number | [number, number] | undefined): void {
  if (dilations === undefined) return;
  const [dh, dw] = pair(dilations);
  if (dh !== 1 || dw !== 1) throw new Error(`${kernelName} on wasm supports dilation 1 only, got ${dh}×${dw}`);
}
