// Identity and same-dtype Cast on the wasm backend without a copy: the output shares the
// input's heap memory and the backend's reference count keeps it alive until the last
// tensor on it is disposed (what wasm's own Reshape and the cpu backend's Identity do).
// wasm's own kernels copy: ~1000 Identity and ~300 Cast calls in one generator backward.
// Safe because no kernel writes into its inputs; Variable.assign and dispose go through the
// reference count.
import * as tf from '@tensorflow/tfjs-core';

/** The parts of the tfjs wasm backend class these kernels use (not in its public types). */
interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: tf.KernelBackend };

/** A new reference to x's data: same dataId, shape and dtype; x's data lives until both are disposed. */
function share(x: tf.TensorInfo, backend: tf.KernelBackend): tf.TensorInfo {
  (backend as unknown as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Identity that shares numeric data (strings go to the original, which builds a new tensor). */
function wrapIdentity(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend } = args as unknown as KernelArgs;
    const x = inputs.x!;
    return x.dtype === 'string' ? original(args) : share(x, backend);
  };
}

/** Cast to the dtype x already has shares its data; real conversions go to the original. */
function wrapCast(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args as unknown as KernelArgs;
    const x = inputs.x!;
    const { dtype } = attrs as unknown as tf.CastAttrs;
    return dtype === x.dtype && x.dtype !== 'string' ? share(x, backend) : original(args);
  };
}

/** Replacement configs for wasm's Identity and Cast, wrapping the registered originals. */
export function sharedDataConfigs(): tf.KernelConfig[] {
  const configs: tf.KernelConfig[] = [];
  for (const [kernelName, wrap] of [
    [tf.Identity, wrapIdentity],
    [tf.Cast, wrapCast],
  ] as const) {
    const original = tf.getKernel(kernelName, 'wasm');
    if (original !== undefined) configs.push({ ...original, kernelFunc: wrap(original.kernelFunc) });
  }
  return configs;
}
