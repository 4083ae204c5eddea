// Depthwise convolution gradient kernels for the wasm backend (absent there), built from
// ops wasm runs fast: a depthwise convolution of zero-dilated dy for dx, and per filter
// tap one multiply-and-sum over the input's strided window for dW.
import * as tf from '@tensorflow/tfjs-core';
import { asTensor, convolutionInfo, requireNoDilation, transposedConvolutionInput } from './kernel-helpers.ts';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap };

/**
 * dx of a depthwise convolution. dy: [N, outH, outW, C·M] float32, filter: [kh, kw, C, M]
 * (M = channel multiplier); returns [N, H, W, C] = attrs.inputShape. Dilation 1, NHWC.
 */
function depthwiseBackpropInput({ inputs, attrs }: KernelArgs): tf.TensorInfo {
  const a = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  requireNoDilation('DepthwiseConv2dNativeBackpropInput', a.dilations);
  return tf.tidy(() => {
    const dy = asTensor<tf.Rank.R4>(inputs.dy);
    const filter = asTensor<tf.Rank.R4>(inputs.filter);
    const [kh, kw, channels, multiplier] = filter.shape;
    const info = convolutionInfo(a.inputShape, filter.shape, a, true);
    const { x, padding } = transposedConvolutionInput(dy, info);
    // Each of the C·M dy channels flows back through its own flipped 2-D filter.
    const flipped = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, channels * multiplier, 1]) as tf.Tensor4D;
    const perOutputChannel = tf.depthwiseConv2d(x, flipped, 1, padding);
    if (multiplier === 1) return perOutputChannel;
    const [n, h, w] = perOutputChannel.shape;
    return tf.sum(tf.reshape(perOutputChannel, [n, h, w, channels, multiplier]), 4);
  });
}

/**
 * dW of a depthwise convolution. x: [N, H, W, C], dy: [N, outH, outW, C·M] float32;
 * returns attrs.filterShape = [kh, kw, C, M]. Dilation 1, NHWC.
 */
function depthwiseBackpropFilter({ inputs, attrs }: KernelArgs): tf.TensorInfo {
  const a = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  requireNoDilation('DepthwiseConv2dNativeBackpropFilter', a.dilations);
  return tf.tidy(() => {
    const x = asTensor<tf.Rank.R4>(inputs.x);
    const dy = asTensor<tf.Rank.R4>(inputs.dy);
    const info = convolutionInfo(x.shape, a.filterShape, a, true);
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow, padInfo } = info;
    const [n, , , channels] = x.shape;
    const multiplier = a.filterShape[3];
    const padded = tf.pad(x, [
      [0, 0],
      [padInfo.top, padInfo.bottom],
      [padInfo.left, padInfo.right],
      [0, 0],
    ]);
    // dy as [N·outH·outW, C, M], the window as [N·outH·outW, C, 1]: product summed over pixels.
    const dyByChannel = tf.reshape(dy, [n * oh * ow, channels, multiplier]);
    const taps: tf.Tensor[] = [];
    for (let r = 0; r < kh; r++) {
      for (let c = 0; c < kw; c++) {
        const window =
          sh === 1 && sw === 1
            ? tf.slice(padded, [0, r, c, 0], [n, oh, ow, channels])
            : tf.stridedSlice(padded, [0, r, c, 0], [n, r + (oh - 1) * sh + 1, c + (ow - 1) * sw + 1, channels], [1, sh, sw, 1]);
        taps.push(tf.sum(tf.mul(tf.reshape(window, [n * oh * ow, channels, 1]), dyByChannel), 0));
      }
    }
    return tf.reshape(tf.stack(taps), [kh, kw, channels, multiplier]);
  });
}

export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInput as unknown as tf.KernelFunc,
};
export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter as unknown as tf.KernelFunc,
};
