// The engine's hand-written SIMD WebAssembly kernels (src/engine/simd/*.c, built by
// scripts/build-wasm-kernels.mjs): their own small module and memory, fed by copies from the
// tfjs wasm heap. Optional: without WebAssembly SIMD the callers keep their tf-op paths.
import type * as tf from '@tensorflow/tfjs-core';
import { ENGINE_KERNELS_WASM_BASE64 } from './simd/engine-kernels-wasm.ts';

interface EngineKernelExports {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
  conv2d_backprop_filter_f32(x: number, dy: number, dw: number, batch: number, inH: number, inW: number, inC: number,
    outH: number, outW: number, outC: number, kH: number, kW: number, strideH: number, strideW: number,
    padTop: number, padLeft: number): void;
  sum_middle_axis_f32(x: number, out: number, outer: number, middle: number, inner: number): void;
}

/** The parts of the tfjs wasm backend class the kernels use (not in its public types). */
export interface WasmHeapAccess {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

let exports: EngineKernelExports | null | undefined;
let loading: Promise<boolean> | undefined;

function wasmBytes(): Uint8Array<ArrayBuffer> {
  const text = atob(ENGINE_KERNELS_WASM_BASE64);
  const bytes = new Uint8Array(new ArrayBuffer(text.length));
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * Compile the kernels asynchronously (browsers refuse large synchronous compiles on the main
 * thread). Resolves to whether they run here; never rejects. initBackend awaits it.
 */
export function loadEngineKernels(): Promise<boolean> {
  if (exports !== undefined) return Promise.resolve(exports !== null);
  loading ??= WebAssembly.instantiate(wasmBytes(), {})
    .then(({ instance }) => { exports ??= instance.exports as unknown as EngineKernelExports; return true; })
    .catch(() => { exports ??= null; return false; });
  return loading;
}

/** The kernels, compiling them synchronously if loadEngineKernels has not run; null if WebAssembly SIMD is missing. */
function engineKernels(): EngineKernelExports | null {
  if (exports === undefined) {
    try {
      exports = new WebAssembly.Instance(new WebAssembly.Module(wasmBytes()), {}).exports as unknown as EngineKernelExports;
    } catch {
      // Not cached as failed: the asynchronous compile may still succeed (browser main thread).
      return null;
    }
  }
  return exports;
}

/** Whether the SIMD kernels can run now. */
export function engineKernelsAvailable(): boolean {
  return engineKernels() !== null;
}

/** Byte offsets of consecutive float32 arrays of the given lengths in the kernels' memory, grown to fit. */
function reserve(kernels: EngineKernelExports, lengths: number[]): { offsets: number[]; heap: Float32Array } {
  let offset = ((kernels.__heap_base.value as number) + 15) & ~15;
  const offsets = lengths.map((length) => { const start = offset; offset += ((length * 4 + 15) & ~15); return start; });
  const missing = offset - kernels.memory.buffer.byteLength;
  if (missing > 0) kernels.memory.grow(Math.ceil(missing / 65536));
  return { offsets, heap: new Float32Array(kernels.memory.buffer) };
}

export interface FilterGradientGeometry {
  batch: number; inHeight: number; inWidth: number; inChannels: number;
  outHeight: number; outWidth: number; outChannels: number;
  filterHeight: number; filterWidth: number; strideHeight: number; strideWidth: number;
  padTop: number; padLeft: number;
}

/**
 * dW of a 2-D convolution on the SIMD kernel, or null when it cannot run (no SIMD, or
 * outChannels not a multiple of 4). x: [N, H, W, Cin], dy: [N, outH, outW, Cout] float32
 * tensors of the wasm backend; returns a new wasm tensor [kh, kw, Cin, Cout]. Dilation 1,
 * zero padding given as padTop/padLeft (bottom/right follow from the sizes).
 */
export function conv2dBackpropFilterSimd(backend: WasmHeapAccess, x: tf.TensorInfo, dy: tf.TensorInfo,
                                         g: FilterGradientGeometry): tf.TensorInfo | null {
  const kernels = engineKernels();
  if (kernels === null || g.outChannels % 4 !== 0 || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
  const xLength = g.batch * g.inHeight * g.inWidth * g.inChannels;
  const dyLength = g.batch * g.outHeight * g.outWidth * g.outChannels;
  const dwLength = g.filterHeight * g.filterWidth * g.inChannels * g.outChannels;
  const { offsets: [xAt, dyAt, dwAt], heap } = reserve(kernels, [xLength, dyLength, dwLength]);
  heap.set(backend.typedArrayFromHeap(x) as Float32Array, xAt! / 4);
  heap.set(backend.typedArrayFromHeap(dy) as Float32Array, dyAt! / 4);
  heap.fill(0, dwAt! / 4, dwAt! / 4 + dwLength);
  kernels.conv2d_backprop_filter_f32(xAt!, dyAt!, dwAt!, g.batch, g.inHeight, g.inWidth, g.inChannels,
    g.outHeight, g.outWidth, g.outChannels, g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.padTop, g.padLeft);
  const out = backend.makeOutput([g.filterHeight, g.filterWidth, g.inChannels, g.outChannels], 'float32');
  // makeOutput may grow the tfjs heap: take the view after it.
  (backend.typedArrayFromHeap(out) as Float32Array).set(new Float32Array(kernels.memory.buffer, dwAt!, dwLength));
  return out;
}

/**
 * Sum of x viewed as [outer, middle, inner] over its middle axis, on the SIMD kernel; null
 * when it cannot run. x: float32 wasm tensor; returns a new wasm tensor of `outShape`
 * (outer·inner values).
 */
export function sumMiddleAxisSimd(backend: WasmHeapAccess, x: tf.TensorInfo, outer: number, middle: number, inner: number,
                                  outShape: number[]): tf.TensorInfo | null {
  const kernels = engineKernels();
  if (kernels === null || x.dtype !== 'float32') return null;
  const { offsets: [xAt, outAt], heap } = reserve(kernels, [outer * middle * inner, outer * inner]);
  heap.set(backend.typedArrayFromHeap(x) as Float32Array, xAt! / 4);
  kernels.sum_middle_axis_f32(xAt!, outAt!, outer, middle, inner);
  const out = backend.makeOutput(outShape, 'float32');
  (backend.typedArrayFromHeap(out) as Float32Array).set(new Float32Array(kernels.memory.buffer, outAt!, outer * inner));
  return out;
}
