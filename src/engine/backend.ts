import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-core's entry registers no gradients; see scripts/bundle-gradients.mjs.
import './generated/register-all-gradients.js';

export type BackendName = 'wasm' | 'cpu' | 'tensorflow' | 'webgl' | 'webgpu';

let initialised: Promise<BackendName> | undefined;

/**
 * Choose and initialise the tensor backend once per process (or page). Later calls
 * return the first choice. Default: wasm.
 */
export function initBackend(options: { backend?: BackendName } = {}): Promise<BackendName> {
  initialised ??= (async () => {
    const wanted = options.backend ?? 'wasm';
    const ok = await tf.setBackend(wanted);
    if (!ok) throw new Error(`backend ${wanted} could not be initialised`);
    await tf.ready();
    return wanted;
  })();
  return initialised;
}
