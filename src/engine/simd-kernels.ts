// The engine's hand-written SIMD WebAssembly kernels (src/engine/simd/*.c, built by
// scripts/build-wasm-kernels.mjs), in one of two builds of the same code: one that imports
// the tfjs wasm heap and reads and writes tensors in place (Node; any non-shared heap), and
// one with its own memory, fed by copies (a browser's threaded, shared heap). Optional:
// without WebAssembly SIMD the callers keep their tf-op paths.
import type * as tf from '@tensorflow/tfjs-core';
import { ENGINE_KERNELS_HEAP_WASM_BASE64, ENGINE_KERNELS_WASM_BASE64 } from './simd/engine-kernels-wasm.ts';

/** The kernels; pointers are byte offsets into the memory the instance addresses. */
interface KernelFunctions {
  conv2d_backprop_filter_f32(
    x: number,
    dy: number,
    dw: number,
    batch: number,
    inH: number,
    inW: number,
    inC: number,
    outH: number,
    outW: number,
    outC: number,
    kH: number,
    kW: number,
    strideH: number,
    strideW: number,
    padTop: number,
    padLeft: number,
  ): void;
  conv2d_backprop_input_f32(
    dyPadded: number,
    wt: number,
    dx: number,
    batch: number,
    inH: number,
    inW: number,
    inC: number,
    outC: number,
    kH: number,
    kW: number,
  ): void;
  transpose_filter_f32(w: number, wt: number, taps: number, inC: number, outC: number): void;
  pad_spatial_f32(
    dy: number,
    padded: number,
    batch: number,
    outH: number,
    outW: number,
    channels: number,
    paddedH: number,
    paddedW: number,
    top: number,
    left: number,
    rows: number,
    columns: number,
  ): void;
  sum_middle_axis_f32(x: number, out: number, outer: number, middle: number, inner: number): void;
}

interface OwnMemoryExports extends KernelFunctions {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
}

/** The parts of the tfjs wasm backend class the kernels use (not in its public types). */
export interface WasmHeapAccess {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  /** Byte offset of a tensor's values in the heap. */
  getMemoryOffset?(dataId: tf.DataId): number;
  disposeData?(dataId: tf.DataId, force?: boolean): boolean;
  /** The Emscripten module; its `asm.memory` is the heap's WebAssembly.Memory. */
  wasm?: { asm?: { memory?: unknown } };
}

let exports: OwnMemoryExports | null | undefined;
let heapModule: WebAssembly.Module | null | undefined;
let loading: Promise<boolean> | undefined;
/** Instances of the heap build, one per tfjs heap (a new wasm backend has a new heap). */
const heapInstances = new WeakMap<WebAssembly.Memory, KernelFunctions>();
let inPlaceAllowed = true;

function wasmBytes(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(text.length));
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * Compile the kernels asynchronously (browsers refuse large synchronous compiles on the main
 * thread). Resolves to whether they run here; never rejects. initBackend awaits it.
 */
export function loadEngineKernels(): Promise<boolean> {
  if (exports !== undefined && heapModule !== undefined) return Promise.resolve(exports !== null);
  loading ??= Promise.all([
    WebAssembly.instantiate(wasmBytes(ENGINE_KERNELS_WASM_BASE64), {})
      .then(({ instance }) => {
        exports ??= instance.exports as unknown as OwnMemoryExports;
      })
      .catch(() => {
        exports ??= null;
      }),
    WebAssembly.compile(wasmBytes(ENGINE_KERNELS_HEAP_WASM_BASE64))
      .then((module) => {
        heapModule ??= module;
      })
      .catch(() => {
        heapModule ??= null;
      }),
  ]).then(() => exports !== null);
  return loading;
}

/**
 * Instantiate the in-place build on the wasm backend's heap, asynchronously (for browsers'
 * main thread; Node also manages synchronously on first use). Call after the backend started;
 * resolves to whether the kernels will work in place; never rejects.
 */
export async function bindEngineKernelsToHeap(backend: WasmHeapAccess): Promise<boolean> {
  await loadEngineKernels();
  const memory = backendHeap(backend);
  if (memory === null || heapModule == null) return false;
  if (!heapInstances.has(memory)) {
    try {
      const instance = await WebAssembly.instantiate(heapModule, { env: { memory } });
      heapInstances.set(memory, instance.exports as unknown as KernelFunctions);
    } catch {
      return false;
    }
  }
  return true;
}

/** For tests and benchmarks: false makes every kernel use the copying build. */
export function setInPlaceKernels(allowed: boolean): void {
  inPlaceAllowed = allowed;
}

/** The own-memory kernels, compiling them synchronously if loadEngineKernels has not run; null if WebAssembly SIMD is missing. */
function engineKernels(): OwnMemoryExports | null {
  if (exports === undefined) {
    try {
      exports = new WebAssembly.Instance(new WebAssembly.Module(wasmBytes(ENGINE_KERNELS_WASM_BASE64)), {}).exports as unknown as OwnMemoryExports;
    } catch {
      // Not cached as failed: the asynchronous compile may still succeed (browser main thread).
      return null;
    }
  }
  return exports;
}

/** The backend's heap if the in-place build can import it: a non-shared WebAssembly.Memory. */
function backendHeap(backend: WasmHeapAccess): WebAssembly.Memory | null {
  const memory = backend.wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory) || !(memory.buffer instanceof ArrayBuffer)) return null;
  if (backend.getMemoryOffset === undefined || backend.disposeData === undefined) return null;
  return memory;
}

/** The in-place kernels for this backend's heap, instantiating synchronously if needed; null to copy. */
function inPlaceKernels(backend: WasmHeapAccess): { kernels: KernelFunctions; memory: WebAssembly.Memory } | null {
  if (!inPlaceAllowed || engineKernels() === null) return null;
  const memory = backendHeap(backend);
  if (memory === null) return null;
  let kernels = heapInstances.get(memory);
  if (kernels === undefined) {
    try {
      heapModule ??= new WebAssembly.Module(wasmBytes(ENGINE_KERNELS_HEAP_WASM_BASE64));
      kernels = new WebAssembly.Instance(heapModule, { env: { memory } }).exports as unknown as KernelFunctions;
    } catch {
      return null; // e.g. a synchronous compile refused: copy until bindEngineKernelsToHeap has run
    }
    heapInstances.set(memory, kernels);
  }
  return { kernels, memory };
}

/** Whether the SIMD kernels can run now. */
export function engineKernelsAvailable(): boolean {
  return engineKernels() !== null;
}

export type EngineKernelsMode = 'in-place' | 'copying' | 'unavailable';

/** How the kernels run on this wasm backend: in place on its heap, on copies, or not at all (no SIMD). */
export function engineKernelsMode(backend: WasmHeapAccess): EngineKernelsMode {
  return inPlaceKernels(backend) !== null ? 'in-place' : engineKernels() !== null ? 'copying' : 'unavailable';
}

/** Where one kernel call's float32 arrays live, as byte offsets into `heap`'s memory. */
interface KernelArrays {
  kernels: KernelFunctions;
  inputs: number[];
  scratch: number[];
  outputs: number[];
  /** View of the memory the offsets point into, taken after every allocation of the call. */
  heap: Float32Array;
}

/**
 * Run `body` on float32 arrays the kernels can address: the inputs' values, uninitialised
 * scratch arrays of the given lengths and outputs of the given shapes (which the body must
 * fill). In place: the tfjs tensors themselves, scratch in a temporary tfjs buffer. Otherwise:
 * copies in the kernels' own memory, outputs copied back. Returns the output tensors, or null
 * when the kernels cannot run here.
 */
function withKernelArrays(
  backend: WasmHeapAccess,
  inputs: tf.TensorInfo[],
  scratch: number[],
  outputs: number[][],
  body: (arrays: KernelArrays) => void,
): tf.TensorInfo[] | null {
  const lengthOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  const aligned = (length: number) => (length * 4 + 15) & ~15;
  const inPlace = inPlaceKernels(backend);
  if (inPlace !== null) {
    const outs = outputs.map((shape) => backend.makeOutput(shape, 'float32'));
    const scratchLength = scratch.reduce((sum, length) => sum + aligned(length) / 4, 0);
    const temporary = scratchLength > 0 ? backend.makeOutput([scratchLength], 'float32') : null;
    let done = false;
    try {
      let offset = temporary === null ? 0 : backend.getMemoryOffset!(temporary.dataId);
      const scratchAt = scratch.map((length) => {
        const at = offset;
        offset += aligned(length);
        return at;
      });
      body({
        kernels: inPlace.kernels,
        inputs: inputs.map((info) => backend.getMemoryOffset!(info.dataId)),
        scratch: scratchAt,
        outputs: outs.map((info) => backend.getMemoryOffset!(info.dataId)),
        heap: new Float32Array(inPlace.memory.buffer), // after the allocations above: they may grow it
      });
      done = true;
    } finally {
      if (temporary !== null) backend.disposeData!(temporary.dataId);
      if (!done) outs.forEach((info) => backend.disposeData!(info.dataId));
    }
    return outs;
  }
  const kernels = engineKernels();
  if (kernels === null) return null;
  const lengths = [...inputs.map((info) => lengthOf(info.shape)), ...scratch, ...outputs.map(lengthOf)];
  let offset = ((kernels.__heap_base.value as number) + 15) & ~15;
  const offsets = lengths.map((length) => {
    const at = offset;
    offset += aligned(length);
    return at;
  });
  const missing = offset - kernels.memory.buffer.byteLength;
  if (missing > 0) kernels.memory.grow(Math.ceil(missing / 65536));
  const heap = new Float32Array(kernels.memory.buffer);
  inputs.forEach((info, i) => heap.set(backend.typedArrayFromHeap(info) as Float32Array, offsets[i]! / 4));
  const outputAt = offsets.slice(inputs.length + scratch.length);
  body({ kernels, inputs: offsets.slice(0, inputs.length), scratch: offsets.slice(inputs.length, inputs.length + scratch.length), outputs: outputAt, heap });
  return outputs.map((shape, i) => {
    const out = backend.makeOutput(shape, 'float32');
    // makeOutput may grow the tfjs heap: take the view after it.
    (backend.typedArrayFromHeap(out) as Float32Array).set(new Float32Array(kernels.memory.buffer, outputAt[i]!, lengthOf(shape)));
    return out;
  });
}

export interface FilterGradientGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/**
 * dW of a 2-D convolution on the SIMD kernel, or null when it cannot run (no SIMD, or
 * outChannels not a multiple of 4). x: [N, H, W, Cin], dy: [N, outH, outW, Cout] float32
 * tensors of the wasm backend; returns a new wasm tensor [kh, kw, Cin, Cout]. Dilation 1,
 * zero padding given as padTop/padLeft (bottom/right follow from the sizes).
 */
export function conv2dBackpropFilterSimd(backend: WasmHeapAccess, x: tf.TensorInfo, dy: tf.TensorInfo, g: FilterGradientGeometry): tf.TensorInfo | null {
  if (g.outChannels % 4 !== 0 || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
  const dwShape = [g.filterHeight, g.filterWidth, g.inChannels, g.outChannels];
  const outs = withKernelArrays(backend, [x, dy], [], [dwShape], ({ kernels, inputs: [xAt, dyAt], outputs: [dwAt], heap }) => {
    heap.fill(0, dwAt! / 4, dwAt! / 4 + dwShape.reduce((a, b) => a * b, 1)); // the kernel adds into dw
    kernels.conv2d_backprop_filter_f32(
      xAt!,
      dyAt!,
      dwAt!,
      g.batch,
      g.inHeight,
      g.inWidth,
      g.inChannels,
      g.outHeight,
      g.outWidth,
      g.outChannels,
      g.filterHeight,
      g.filterWidth,
      g.strideHeight,
      g.strideWidth,
      g.padTop,
      g.padLeft,
    );
  });
  return outs === null ? null : outs[0]!;
}

export interface InputGradientGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  padTop: number;
  padLeft: number;
}

/**
 * dx of a stride-1 2-D convolution on the SIMD kernel, or null when it cannot run (no SIMD,
 * inChannels not a multiple of 4, or padding wider than the filter). dy: [N, outH, outW, Cout],
 * filter: [kh, kw, Cin, Cout] float32 wasm tensors; returns a new wasm tensor [N, H, W, Cin].
 * Dilation 1, zero padding given as padTop/padLeft (bottom/right follow from the sizes).
 */
export function conv2dBackpropInputSimd(backend: WasmHeapAccess, dy: tf.TensorInfo, filter: tf.TensorInfo, g: InputGradientGeometry): tf.TensorInfo | null {
  // dy sits in the padded grid at (kH − 1 − padTop, kW − 1 − padLeft): both must be ≥ 0.
  const top = g.filterHeight - 1 - g.padTop,
    left = g.filterWidth - 1 - g.padLeft;
  if (g.inChannels % 4 !== 0 || top < 0 || left < 0 || dy.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const paddedHeight = g.inHeight + g.filterHeight - 1,
    paddedWidth = g.inWidth + g.filterWidth - 1;
  const paddedLength = g.batch * paddedHeight * paddedWidth * g.outChannels;
  const filterLength = g.filterHeight * g.filterWidth * g.inChannels * g.outChannels;
  // dy rows and columns that land outside the padded grid never reach dx (negative padding).
  const rows = Math.min(g.outHeight, paddedHeight - top),
    columns = Math.min(g.outWidth, paddedWidth - left);
  const outs = withKernelArrays(
    backend,
    [dy, filter],
    [paddedLength, filterLength],
    [[g.batch, g.inHeight, g.inWidth, g.inChannels]],
    ({ kernels, inputs: [dyAt, filterAt], scratch: [paddedAt, transposedAt], outputs: [dxAt] }) => {
      kernels.pad_spatial_f32(dyAt!, paddedAt!, g.batch, g.outHeight, g.outWidth, g.outChannels, paddedHeight, paddedWidth, top, left, rows, columns);
      kernels.transpose_filter_f32(filterAt!, transposedAt!, g.filterHeight * g.filterWidth, g.inChannels, g.outChannels);
      kernels.conv2d_backprop_input_f32(
        paddedAt!,
        transposedAt!,
        dxAt!,
        g.batch,
        g.inHeight,
        g.inWidth,
        g.inChannels,
        g.outChannels,
        g.filterHeight,
        g.filterWidth,
      );
    },
  );
  return outs === null ? null : outs[0]!;
}

/**
 * Sum of x viewed as [outer, middle, inner] over its middle axis, on the SIMD kernel; null
 * when it cannot run. x: float32 wasm tensor; returns a new wasm tensor of `outShape`
 * (outer·inner values).
 */
export function sumMiddleAxisSimd(
  backend: WasmHeapAccess,
  x: tf.TensorInfo,
  outer: number,
  middle: number,
  inner: number,
  outShape: number[],
): tf.TensorInfo | null {
  if (x.dtype !== 'float32') return null;
  const outs = withKernelArrays(backend, [x], [], [outShape], ({ kernels, inputs: [xAt], outputs: [outAt] }) => {
    kernels.sum_middle_axis_f32(xAt!, outAt!, outer, middle, inner);
  });
  return outs === null ? null : outs[0]!;
}
