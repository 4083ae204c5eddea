// Gradient functions tfjs-core lacks, registered for every backend. They are what second-
// order use needs (the R1 penalty differentiates a gradient: through leakyRelu's mask,
// resize/pool gradients and convolution gradients) plus a few plain gaps.
import * as tf from '@tensorflow/tfjs-core';
import { pair } from './kernel-helpers.ts';

type GradFunc = tf.GradConfig['gradFunc'];

/** Comparisons and logic have zero gradient (TensorFlow's convention); tfjs lacks most. */
const PIECEWISE_CONSTANT_KERNELS: Array<[string, string[]]> = [
  [tf.Greater, ['a', 'b']],
  [tf.Less, ['a', 'b']],
  [tf.LessEqual, ['a', 'b']],
  [tf.Equal, ['a', 'b']],
  [tf.NotEqual, ['a', 'b']],
  [tf.LogicalAnd, ['a', 'b']],
  [tf.LogicalOr, ['a', 'b']],
  [tf.LogicalNot, ['x']],
  [tf.All, ['x']],
  [tf.Any, ['x']],
];

function zeroGradients(inputNames: string[]): tf.GradConfig {
  return {
    kernelName: '',
    inputsToSave: inputNames,
    gradFunc: (_dy, saved) => Object.fromEntries(inputNames.map((name, i) => [name, () => tf.zeros(saved[i]!.shape, 'float32')])),
  };
}

/** Sum-pooling with weight 1/(kh·kw) everywhere: the exact adjoint of tfjs' AvgPoolGrad. */
const avgPoolGradGrad: GradFunc = (ddx, saved, attrs) => {
  const [dy] = saved;
  const { filterSize, strides, pad } = attrs as unknown as tf.AvgPoolGradAttrs;
  const [kh, kw] = pair(filterSize);
  const channels = dy.shape[3]!;
  return {
    dy: () => tf.depthwiseConv2d(ddx as tf.Tensor4D, tf.fill([kh, kw, channels, 1], 1 / (kh * kw)) as tf.Tensor4D, strides, pad as 'same'),
    input: () => tf.zerosLike(saved[1]),
  };
};

/** MaxPoolGrad routes dy to each window's argmax; its adjoint gathers ddx from there. */
const maxPoolGradGrad: GradFunc = (ddx, saved, attrs) => {
  const [dy, input, output] = saved;
  const { filterSize, strides, pad } = attrs as unknown as tf.MaxPoolGradAttrs;
  return {
    dy: () => {
      const { indexes } = tf.maxPoolWithArgmax(input as tf.Tensor4D, filterSize, strides, pad as 'same', true);
      return tf.reshape(tf.gather(tf.reshape(ddx as tf.Tensor, [-1]), tf.reshape(indexes, [-1])), dy.shape);
    },
    input: () => tf.zerosLike(input),
    output: () => tf.zerosLike(output),
  };
};

function resizeGradGrad(forward: typeof tf.image.resizeBilinear): GradFunc {
  return (ddx, saved, attrs) => {
    const [images, dy] = saved;
    const { alignCorners, halfPixelCenters } = attrs as unknown as tf.ResizeBilinearAttrs;
    return {
      // The resize gradient is the transpose of the resize, so its own gradient is the resize.
      dy: () => forward(ddx as tf.Tensor4D, [dy.shape[1]!, dy.shape[2]!], alignCorners, halfPixelCenters),
      images: () => tf.zerosLike(images),
    };
  };
}

const conv2dBackpropFilterGrad: GradFunc = (ddW, saved, attrs) => {
  const [x, dy] = saved as [tf.Tensor4D, tf.Tensor4D];
  const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  return {
    x: () => tf.conv2dTranspose(dy, ddW as tf.Tensor4D, x.shape, strides, pad as 'same', dimRoundingMode),
    dy: () => tf.conv2d(x, ddW as tf.Tensor4D, strides, pad as 'same', dataFormat, 1, dimRoundingMode),
  };
};

const depthwiseBackpropInputGrad: GradFunc = (ddx, saved, attrs) => {
  const [dy, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
  const { strides, pad, dilations, dimRoundingMode } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  return {
    dy: () => tf.depthwiseConv2d(ddx as tf.Tensor4D, filter, strides, pad as 'same', 'NHWC', dilations, dimRoundingMode),
    filter: () =>
      tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x: ddx as tf.Tensor, dy }, {
        strides,
        pad,
        dilations,
        dimRoundingMode,
        filterShape: filter.shape,
      } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor,
  };
};

const depthwiseBackpropFilterGrad: GradFunc = (ddW, saved, attrs) => {
  const [x, dy] = saved as [tf.Tensor4D, tf.Tensor4D];
  const { strides, pad, dilations, dimRoundingMode } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  return {
    x: () =>
      tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter: ddW as tf.Tensor }, {
        strides,
        pad,
        dilations,
        dimRoundingMode,
        inputShape: x.shape,
      } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor,
    dy: () => tf.depthwiseConv2d(x, ddW as tf.Tensor4D, strides, pad as 'same', 'NHWC', dilations, dimRoundingMode),
  };
};

const gatherNdGrad: GradFunc = (dy, saved) => {
  const [params, indices] = saved;
  return {
    params: () => tf.scatterND(indices, dy as tf.Tensor, params.shape),
    indices: () => tf.zeros(indices.shape, 'float32'),
  };
};

const scatterNdGrad: GradFunc = (dy, saved) => {
  const [indices] = saved;
  return { updates: () => tf.gatherND(dy as tf.Tensor, indices), indices: () => tf.zeros(indices.shape, 'float32') };
};

/** tfjs' own Prod gradient calls chained ops (`x.reshape`), which this setup does not register. */
const prodGrad: GradFunc = (dy, saved, attrs) => {
  const [x] = saved;
  const { axis } = attrs as unknown as tf.ProdAttrs;
  const axes = tf.util.parseAxisParam(axis ?? x.shape.map((_, i) => i), x.shape);
  return {
    x: () => {
      // d prod / d x_i = product of the others = exclusive cumprod from the left × from the right.
      const permutation = tf.backend_util.getAxesPermutation(axes, x.rank);
      const permuted = permutation === null ? x : tf.transpose(x, permutation);
      const keptShape = permuted.shape.slice(0, x.rank - axes.length);
      const flat = tf.reshape(permuted, [...keptShape, -1]);
      const last = keptShape.length;
      const others = tf.mul(tf.cumprod(flat, last, true, false), tf.cumprod(flat, last, true, true));
      const grad = tf.reshape(tf.mul(tf.reshape(dy as tf.Tensor, [...keptShape, 1]), others), permuted.shape);
      return permutation === null ? grad : tf.transpose(grad, tf.backend_util.getUndoAxesPermutation(permutation));
    },
  };
};

/**
 * dy · (x > 0 ? 1 : alpha) with one Step and one multiply: tfjs' own (greater → where) costs
 * 14 ms on wasm for a [1, 128, 128, 64] tensor, this 0.5 ms. Step's gradient is zero, so the
 * second-order use (R1) sees the same piecewise-constant mask as before.
 */
const leakyReluGrad: GradFunc = (dy, saved, attrs) => {
  const [x] = saved;
  const { alpha } = attrs as unknown as tf.LeakyReluAttrs;
  return { x: () => tf.mul(dy as tf.Tensor, tf.step(x, alpha)) };
};

/** Gradients registered even if tfjs has one, because tfjs' one is broken or slow here. */
const REPLACEMENTS: tf.GradConfig[] = [
  { kernelName: tf.Prod, inputsToSave: ['x'], gradFunc: prodGrad },
  { kernelName: tf.LeakyRelu, inputsToSave: ['x'], gradFunc: leakyReluGrad },
];

/** Gradients registered only where tfjs has none. */
const ADDITIONS: tf.GradConfig[] = [
  ...PIECEWISE_CONSTANT_KERNELS.map(([kernelName, inputs]) => ({ ...zeroGradients(inputs), kernelName })),
  { kernelName: tf.AvgPoolGrad, inputsToSave: ['dy', 'input'], gradFunc: avgPoolGradGrad },
  { kernelName: tf.MaxPoolGrad, inputsToSave: ['dy', 'input', 'output'], gradFunc: maxPoolGradGrad },
  { kernelName: tf.ResizeBilinearGrad, inputsToSave: ['images', 'dy'], gradFunc: resizeGradGrad(tf.image.resizeBilinear) },
  {
    kernelName: tf.ResizeNearestNeighborGrad,
    inputsToSave: ['images', 'dy'],
    gradFunc: resizeGradGrad(tf.image.resizeNearestNeighbor as typeof tf.image.resizeBilinear),
  },
  { kernelName: tf.Conv2DBackpropFilter, inputsToSave: ['x', 'dy'], gradFunc: conv2dBackpropFilterGrad },
  { kernelName: tf.DepthwiseConv2dNativeBackpropInput, inputsToSave: ['dy', 'filter'], gradFunc: depthwiseBackpropInputGrad },
  { kernelName: tf.DepthwiseConv2dNativeBackpropFilter, inputsToSave: ['x', 'dy'], gradFunc: depthwiseBackpropFilterGrad },
  { kernelName: tf.GatherNd, inputsToSave: ['params', 'indices'], gradFunc: gatherNdGrad },
  { kernelName: tf.ScatterNd, inputsToSave: ['indices'], gradFunc: scatterNdGrad },
];

/**
 * Register the missing gradient functions (idempotent). Returns the kernel names whose
 * gradient this call registered, for `describeBackend()`.
 */
export function registerExtraGradients(): string[] {
  const added: string[] = [];
  for (const config of REPLACEMENTS) {
    if (tf.getGradient(config.kernelName)?.gradFunc === config.gradFunc) continue;
    silently(() => tf.registerGradient(config));
    added.push(config.kernelName);
  }
  for (const config of ADDITIONS) {
    if (tf.getGradient(config.kernelName) !== undefined) continue;
    tf.registerGradient(config);
    added.push(config.kernelName);
  }
  return added;
}

/** tfjs warns on overriding a registration; the override here is deliberate. */
function silently(register: () => void): void {
  const warn = console.warn;
  console.warn = () => {};
  try {
    register();
  } finally {
    console.warn = warn;
  }
}
