// Backend names apart from backend.ts, free of imports, so the CLI's --help lists them without loading TF.js.
export type BackendName = 'wasm' | 'cpu' | 'tensorflow' | 'webgl' | 'webgpu';
export const BACKEND_NAMES: readonly BackendName[] = ['wasm', 'cpu', 'tensorflow', 'webgl', 'webgpu'];
/** The backends Node can run (webgl and webgpu are the browser's). */
export const NODE_BACKEND_NAMES = ['wasm', 'cpu', 'tensorflow'] as const satisfies readonly BackendName[];
export type NodeBackendName = (typeof NODE_BACKEND_NAMES)[number];
