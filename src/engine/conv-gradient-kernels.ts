// Convolution gradient kernels for the wasm backend, built from ops wasm runs fast.
// Conv2DBackpropInput: a stride-1 XNNPACK convolution of zero-dilated dy with the flipped,
// in/out-swapped filter (~10× faster than wasm's own kernel). Conv2DBackpropFilter
// (absent on wasm): the input's strided windows stacked into one matrix and one plain
// matMul with dy (matMul with transposeA is ~13× slower on wasm, so the input is
// transposed once to channels-first instead).
import * as tf from '@tensorflow/tfjs-core';
import {
  asTensor, pair, requireChannelsLast, stridedWindows, transposedConvolutionInput,
} from './kernel-helpers.ts';

/** Above this many floats in the window matrix, Conv2DBackpropFilter works batch by batch. */
const MAX_WINDOW_FLOATS = 1 << 25;

/**
 * dx of a 2-D convolution. dy: [N, outH, outW, Cout] float32, filter: [kh, kw, Cin, Cout];
 * returns [N, H, W, Cin] = attrs.inputShape. Strides any, dilation 1, NHWC.
 */
function conv2dBackpropInput({ inputs, attrs }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  requireChannelsLast('Conv2DBackpropInput', a.dataFormat);
  return tf.tidy(() => {
    const dy = asTensor<tf.Rank.R4>(inputs.dy);
    const filter = asTensor<tf.Rank.R4>(inputs.filter);
    const info = tf.backend_util.computeConv2DInfo(
      a.inputShape, filter.shape, pair(a.strides), 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    const { x, padding } = transposedConvolutionInput(dy, info);
    // [kh, kw, Cin, Cout] → flipped in both spatial axes, as [kh, kw, Cout, Cin].
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
    return tf.conv2d(x, flipped, 1, padding);
  });
}

/**
 * dW of a 2-D convolution. x: [N, H, W, Cin], dy: [N, outH, outW, Cout] float32;
 * returns attrs.filterShape = [kh, kw, Cin, Cout]. Strides any, dilation 1, NHWC.
 */
function conv2dBackpropFilter({ inputs, attrs }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  requireChannelsLast('Conv2DBackpropFilter', a.dataFormat);
  return tf.tidy(() => {
    const x = asTensor<tf.Rank.R4>(inputs.x);
    const dy = asTensor<tf.Rank.R4>(inputs.dy);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape, a.filterShape, pair(a.strides), 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    const { batchSize, filterHeight: kh, filterWidth: kw, inChannels, outChannels, outHeight, outWidth, padInfo } = info;
    const floatsPerSample = kh * kw * inChannels * outHeight * outWidth;
    const samplesPerChunk = Math.max(1, Math.min(batchSize, Math.floor(MAX_WINDOW_FLOATS / floatsPerSample)));
    let dW: tf.Tensor | undefined;
    for (let start = 0; start < batchSize; start += samplesPerChunk) {
      const count = Math.min(samplesPerChunk, batchSize - start);
      const xChunk = count === batchSize ? x : tf.slice(x, [start, 0, 0, 0], [count, -1, -1, -1]);
      const dyChunk = count === batchSize ? dy : tf.slice(dy, [start, 0, 0, 0], [count, -1, -1, -1]);
      const xChannelsFirst = tf.pad(tf.transpose(xChunk, [3, 0, 1, 2]),
        [[0, 0], [0, 0], [padInfo.top, padInfo.bottom], [padInfo.left, padInfo.right]]);
      const windows = stridedWindows(xChannelsFirst, info);
      const part: tf.Tensor2D = tf.matMul(windows, tf.reshape(dyChunk, [count * outHeight * outWidth, outChannels]));
      dW = dW === undefined ? part : tf.add(dW, part);
    }
    return tf.reshape(dW!, [kh, kw, inChannels, outChannels]);
  });
}

export const conv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput, backendName: 'wasm', kernelFunc: conv2dBackpropInput as unknown as tf.KernelFunc,
};
export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2dBackpropFilter as unknown as tf.KernelFunc,
};
