// Installs the engine's kernels on the 'wasm' backend: the gradient kernels it lacks,
// a faster Conv2DBackpropInput, matMul wrappers that avoid its slow transposed path, a
// Slice that does not copy its whole input first, a faster LeakyRelu, and a Sum over
// leading axes without wasm's transpose, and an Identity / same-dtype Cast that share their
// input's memory instead of copying it.
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterConfig, conv2dBackpropInputConfig } from './conv-gradient-kernels.ts';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise-gradient-kernels.ts';
import { explicitTransposeMatMulConfigs, fastSliceConfigs, fastSumConfigs, leakyReluConfig, unsortedSegmentSumConfig } from './misc-wasm-kernels.ts';
import { sharedDataConfigs } from './shared-data-kernels.ts';

let installed: string[] | undefined;
const replaced = new Map<string, tf.KernelConfig>();

/** wasm's own kernel that installWasmKernels replaced, if any (for benchmarks). */
export function builtinWasmKernel(kernelName: string): tf.KernelConfig | undefined {
  return replaced.get(kernelName);
}

/**
 * Register (or replace) the engine's kernels for backendName 'wasm'. Idempotent; safe before
 * or after the wasm backend initialises (none of these kernels needs a setup step of its
 * own). Returns the kernel names installed.
 */
export function installWasmKernels(): string[] {
  if (installed !== undefined) return installed;
  const configs = [
    conv2dBackpropInputConfig,
    conv2dBackpropFilterConfig,
    depthwiseBackpropInputConfig,
    depthwiseBackpropFilterConfig,
    unsortedSegmentSumConfig,
    leakyReluConfig,
    ...explicitTransposeMatMulConfigs(),
    ...fastSliceConfigs(),
    ...fastSumConfigs(),
    ...sharedDataConfigs(),
  ];
  for (const config of configs) {
    const builtin = tf.getKernel(config.kernelName, 'wasm');
    if (builtin !== undefined) {
      replaced.set(config.kernelName, builtin);
      tf.unregisterKernel(config.kernelName, 'wasm');
    }
    tf.registerKernel(config);
  }
  installed = configs.map((config) => config.kernelName);
  return installed;
}
