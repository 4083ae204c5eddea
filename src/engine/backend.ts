// One place that chooses and initialises the tensor backend, and installs the kernels
// and gradients the engine adds. Runs in Node and in browsers: `process` is read only
// where it exists and @tensorflow/tfjs-node is only ever tried by dynamic import.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
// tfjs-core's entry registers no gradients; see scripts/bundle-gradients.mjs.
import './generated/register-all-gradients.js';
import { invalidParameterError, UsageError } from '../common/errors.ts';
import { registerExtraGradients } from './extra-gradients.ts';
import { bindEngineKernelsToHeap, engineKernelsMode, loadEngineKernels, type EngineKernelsMode, type WasmHeapAccess } from './simd-kernels.ts';
import { installWasmKernels } from './wasm-kernels.ts';

import { BACKEND_NAMES, type BackendName } from './backend-names.ts';

export { BACKEND_NAMES, NODE_BACKEND_NAMES, type BackendName, type NodeBackendName } from './backend-names.ts';

export interface InitBackendOptions {
  /** Backend to use; default from env FACEGAR_BACKEND (Node), else the fastest available. */
  backend?: BackendName;
  /** Browser only: URL prefix (ending in '/') where the tfjs-backend-wasm .wasm files are served. */
  wasmPath?: string;
}

export interface BackendDescription {
  name: BackendName;
  /** Threads the backend computes on (wasm: its pool size; cpu: 1; others: logical CPUs if known). */
  threads: number;
  /** wasm only: whether the SIMD build runs. */
  simd?: boolean;
  /** wasm only: how the engine's own SIMD kernels run (in place on the tfjs heap, on copies, or not). */
  engineKernels?: EngineKernelsMode;
  /** Kernels this module registered or replaced on the active backend. */
  kernelsAdded: string[];
  /** Gradient functions this module added to tfjs (all backends). */
  gradientsAdded: string[];
}

// Installed on import, so code that calls tf.setBackend('wasm') itself gets them too.
const wasmKernels = installWasmKernels();
const gradientsAdded = registerExtraGradients();

let first: Promise<BackendName> | undefined;
let active: { name: BackendName; simd?: boolean } | undefined;

/**
 * Choose and initialise the tensor backend. The first call decides, in this order: options.backend,
 * env FACEGAR_BACKEND, then in Node 'tensorflow' when @tensorflow/tfjs-node(-gpu) can be imported else
 * 'wasm', in browsers 'webgpu' / 'webgl' when their packages are loaded else 'wasm'; 'cpu' if the
 * chosen one fails to start without being asked for by name. Later calls without options.backend
 * return the first choice; a later call naming another backend switches to it.
 * Throws UsageError for an unknown name or a named backend that cannot start.
 */
export function initBackend(options: InitBackendOptions = {}): Promise<BackendName> {
  if (options.backend !== undefined && !BACKEND_NAMES.includes(options.backend)) {
    return Promise.reject(invalidParameterError('backend', `one of ${BACKEND_NAMES.join(', ')}`, options.backend));
  }
  if (first !== undefined && options.backend !== undefined && options.backend !== active?.name) {
    return first.then(() => start(options.backend!, true, options.wasmPath));
  }
  first ??= choose(options);
  return first;
}

/** What runs the tensors now, for `facegar --version --verbose`. Call after initBackend. */
export function describeBackend(): BackendDescription {
  const name = active?.name ?? (tf.getBackend() as BackendName);
  const logicalCpus = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  const threads = name === 'wasm' ? getThreadsCount() : name === 'cpu' ? 1 : (logicalCpus ?? 1);
  return {
    name,
    threads,
    ...(name === 'wasm' ? { simd: active?.simd ?? false, engineKernels: engineKernelsMode(tf.backend() as unknown as WasmHeapAccess) } : {}),
    kernelsAdded: name === 'wasm' ? [...wasmKernels] : [],
    gradientsAdded: [...gradientsAdded],
  };
}

async function choose(options: InitBackendOptions): Promise<BackendName> {
  const fromEnv = environmentBackend();
  if (fromEnv !== undefined && !BACKEND_NAMES.includes(fromEnv as BackendName)) {
    throw invalidParameterError('FACEGAR_BACKEND', `one of ${BACKEND_NAMES.join(', ')}`, fromEnv);
  }
  const named = options.backend ?? (fromEnv as BackendName | undefined);
  if (named !== undefined) return start(named, true, options.wasmPath);
  for (const candidate of await automaticCandidates()) {
    try {
      return await start(candidate, false, options.wasmPath);
    } catch {
      // Fall through to the next candidate; 'cpu' always starts.
    }
  }
  return start('cpu', true, options.wasmPath);
}

function environmentBackend(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.FACEGAR_BACKEND?.trim();
  return value === '' ? undefined : value;
}

function isNode(): boolean {
  return typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
}

async function automaticCandidates(): Promise<BackendName[]> {
  if (isNode()) return (await loadTfjsNode()) ? ['tensorflow', 'wasm', 'cpu'] : ['wasm', 'cpu'];
  const loaded = (['webgpu', 'webgl'] as const).filter((name) => tf.findBackendFactory(name) !== null);
  return [...loaded, 'wasm', 'cpu'];
}

/**
 * Import @tensorflow/tfjs-node-gpu (CUDA) or else @tensorflow/tfjs-node if installed; either
 * registers the 'tensorflow' backend. Never required.
 */
async function loadTfjsNode(): Promise<boolean> {
  if (tf.findBackendFactory('tensorflow') !== null) return true;
  for (const specifier of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier);
      if (tf.findBackendFactory('tensorflow') !== null) return true;
    } catch {
      // not installed (or its native binding failed to load): try the next, then wasm
    }
  }
  return false;
}

async function start(name: BackendName, named: boolean, wasmPath?: string): Promise<BackendName> {
  if (name === 'tensorflow' && !(await loadTfjsNode())) {
    throw new UsageError('backend tensorflow is not available: install @tensorflow/tfjs-node (or @tensorflow/tfjs-node-gpu)');
  }
  if (name === 'wasm') {
    if (wasmPath !== undefined) setWasmPaths(wasmPath);
    // Compiled ahead, asynchronously: browsers refuse synchronous compiles of this size on the page's thread.
    await loadEngineKernels();
  }
  let ok = false;
  try {
    ok = await tf.setBackend(name);
    if (ok) await tf.ready();
  } catch {
    ok = false;
  }
  if (!ok) {
    const hint = name === 'webgl' || name === 'webgpu' ? ` (import @tensorflow/tfjs-backend-${name} first)` : '';
    throw new UsageError(`backend ${name} could not be initialised${named ? hint : ''}`);
  }
  // The in-place kernels import the backend's heap: instantiated asynchronously, like the compile above.
  if (name === 'wasm') await bindEngineKernelsToHeap(tf.backend() as unknown as WasmHeapAccess);
  const simd = name === 'wasm' ? Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) : undefined;
  active = { name, simd };
  return name;
}
