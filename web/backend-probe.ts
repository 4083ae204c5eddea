// Which tensor backend the page's worker runs on, chosen so that no user is left on a backend
// far slower than another they have: WebGL drawn by a software renderer (SwiftShader, llvmpipe:
// virtual machines, remote desktops, blocklisted GPUs) ran a photo's fit for minutes where wasm
// took seconds. So a software WebGL is never picked by itself, and otherwise a short probe is
// timed on each backend and the faster one wins. wasm is always probed: its time also sets what
// a photo is expected to take (see expectedPhotoMs).
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '../src/index.ts';

export interface BackendChoice {
  backend: BackendName;
  /** One sentence for the page: why this backend. */
  reason: string;
  /** The probe's time on each backend that ran it (ms). */
  probeMs: Partial<Record<BackendName, number>>;
  /** WebGL's renderer as the browser names it (WEBGL_debug_renderer_info), when WebGL exists. */
  webglRenderer?: string;
  softwareWebgl: boolean;
}

/** Renderer names of software rasterisers (Chromium's SwiftShader, Mesa's llvmpipe / softpipe / lavapipe, Windows' WARP). */
const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|lavapipe|software|basic render driver|microsoft basic|warp/i;

/**
 * Start the backend for the page: `requested` (from ?backend=) when given, else wasm or WebGL by
 * the rules above. Always leaves wasm initialised once (its probe time is the reference).
 */
export async function chooseBackend(requested: BackendName | undefined, wasmPath: string): Promise<BackendChoice> {
  const webglRenderer = webglRendererName();
  const softwareWebgl = webglRenderer !== undefined && SOFTWARE_RENDERER.test(webglRenderer);
  const probeMs: Partial<Record<BackendName, number>> = {};
  await initBackend({ backend: 'wasm', wasmPath });
  probeMs.wasm = timeProbe();
  const canProbeWebgl = webglRenderer !== undefined && !softwareWebgl && (requested === undefined || requested === 'webgl');
  if (canProbeWebgl) {
    try {
      await initBackend({ backend: 'webgl' });
      probeMs.webgl = timeProbe();
    } catch {
      // WebGL listed but refused to start: wasm it is.
    }
  }
  const ms = (name: BackendName) => `${name} ${Math.round(probeMs[name]!)} ms`;
  let backend: BackendName = 'wasm';
  let reason: string;
  if (requested !== undefined) {
    backend = requested;
    reason = `asked for in the address (?backend=${requested})`;
  } else if (webglRenderer === undefined) {
    reason = 'this browser offers no WebGL here';
  } else if (softwareWebgl) {
    reason = `WebGL here is drawn in software (${shortRenderer(webglRenderer)}), far slower than wasm`;
  } else if (probeMs.webgl === undefined) {
    reason = 'WebGL failed to start';
  } else {
    backend = probeMs.webgl < probeMs.wasm ? 'webgl' : 'wasm';
    reason = `the faster on a short probe (${ms('wasm')}, ${ms('webgl')})`;
  }
  await initBackend({ backend, wasmPath });
  return { backend, reason, probeMs, webglRenderer, softwareWebgl };
}

/** The unmasked WebGL renderer string, or undefined when there is no WebGL (e.g. in a worker without OffscreenCanvas). */
function webglRendererName(): string | undefined {
  try {
    const gl = (new OffscreenCanvas(1, 1).getContext('webgl2') ?? new OffscreenCanvas(1, 1).getContext('webgl')) as WebGLRenderingContext | null;
    if (!gl) return undefined;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return name;
  } catch {
    return undefined;
  }
}

function shortRenderer(name: string): string {
  return name.match(SOFTWARE_RENDERER)?.[0] ?? name;
}

/**
 * A fit in miniature, timed: landmark-stage-like steps (a [204, 153] basis product, a few small
 * ops, their gradient, read back each step) and a GAR-step-like convolution with its gradient
 * (32×32×32, two 3×3 layers). The first run compiles shaders; the best of the next three counts
 * (the least disturbed by other work on the machine).
 */
function timeProbe(): number {
  const run = () =>
    tf.tidy(() => {
      const basis = tf.randomNormal([204, 153], 0, 1, 'float32', 1);
      const target = tf.randomNormal([204, 1], 0, 1, 'float32', 2);
      let coefficients = tf.zeros([153, 1]);
      const landmarkLoss = (c: tf.Tensor) => tf.mean(tf.square(tf.sub(tf.matMul(basis, c), target))) as tf.Scalar;
      for (let step = 0; step < 10; step++) {
        const gradient = tf.grad(landmarkLoss)(coefficients);
        coefficients = tf.sub(coefficients, tf.mul(0.01, gradient));
        coefficients.dataSync();
      }
      const image = tf.randomNormal([1, 32, 32, 32], 0, 1, 'float32', 3) as tf.Tensor4D;
      const filter1 = tf.randomNormal([3, 3, 32, 32], 0, 0.1, 'float32', 4) as tf.Tensor4D;
      const filter2 = tf.randomNormal([3, 3, 32, 32], 0, 0.1, 'float32', 5) as tf.Tensor4D;
      const render = (x: tf.Tensor4D, f1: tf.Tensor4D, f2: tf.Tensor4D) => tf.sum(tf.conv2d(tf.relu(tf.conv2d(x, f1, 1, 'same')), f2, 1, 'same')) as tf.Scalar;
      const gradients = tf.grads((x, f1, f2) => render(x as tf.Tensor4D, f1 as tf.Tensor4D, f2 as tf.Tensor4D))([image, filter1, filter2]);
      for (const g of gradients) g.dataSync();
    });
  run();
  let best = Infinity;
  for (let k = 0; k < 3; k++) {
    const started = performance.now();
    run();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}
