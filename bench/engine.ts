// Engine benchmark (not a test): a small StyleGAN2-like stack of modulated 3×3 convolutions,
// forward and forward+backward on wasm, forward+backward on cpu, and wasm's built-in vs the
// engine's Conv2DBackpropInput. Run: node --import tsx bench/engine.ts [--json] [--quick]
import * as tf from '@tensorflow/tfjs-core';
import { describeBackend, initBackend } from '../src/engine/backend.ts';
import { builtinWasmKernel } from '../src/engine/wasm-kernels.ts';

const args = new Set(process.argv.slice(2));
const asJson = args.has('--json');
const quick = args.has('--quick');
const SIZE = 128, CHANNELS = 64, BLOCKS = 4, LATENT = 128;

function seeded(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale);
}

/** Parameters of one modulated conv block: style affine, 3×3 weight, bias. */
interface Block { affine: tf.Tensor2D; weight: tf.Tensor4D; bias: tf.Tensor1D }

function makeBlocks(): Block[] {
  return Array.from({ length: BLOCKS }, (_, i) => ({
    affine: seeded([LATENT, CHANNELS], 10 + i, 1 / Math.sqrt(LATENT)) as tf.Tensor2D,
    weight: seeded([3, 3, CHANNELS, CHANNELS], 20 + i) as tf.Tensor4D,
    bias: tf.zeros([CHANNELS]) as tf.Tensor1D,
  }));
}

/** StyleGAN2 modulated conv (batch 1): scale input channels by the style, demodulate, leakyRelu. */
function modulatedConv(x: tf.Tensor4D, latent: tf.Tensor2D, block: Block): tf.Tensor4D {
  const style = tf.add(tf.reshape(tf.matMul(latent, block.affine), [1, 1, CHANNELS, 1]), 1);
  const modulated = tf.mul(block.weight, style);
  const demodulation = tf.rsqrt(tf.add(tf.sum(tf.square(modulated), [0, 1, 2], true), 1e-8));
  const y = tf.conv2d(x, tf.mul(modulated, demodulation) as tf.Tensor4D, 1, 'same');
  return tf.mul(tf.leakyRelu(tf.add(y, block.bias), 0.2), Math.SQRT2);
}

function network(x: tf.Tensor, latent: tf.Tensor, blocks: Block[], target: tf.Tensor): tf.Scalar {
  let h = x as tf.Tensor4D;
  for (const block of blocks) h = modulatedConv(h, latent as tf.Tensor2D, block);
  return tf.mean(tf.square(tf.sub(h, target)));
}

/** Median wall time of `runs` calls after one warm-up; each call reads its result back. */
function timeMs(run: () => tf.Tensor | tf.Tensor[], runs: number): number {
  const once = () => {
    const start = performance.now();
    tf.tidy(() => { const out = run(); (Array.isArray(out) ? out : [out]).forEach((t) => t.dataSync()); });
    return performance.now() - start;
  };
  once();
  const times = Array.from({ length: runs }, once).sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function measureStack(runs: number) {
  const x = seeded([1, SIZE, SIZE, CHANNELS], 1);
  const latent = seeded([1, LATENT], 2);
  const target = seeded([1, SIZE, SIZE, CHANNELS], 3);
  const blocks = makeBlocks();
  const variables = [x, latent, ...blocks.flatMap((b) => [b.affine, b.weight, b.bias])];
  const forwardMs = timeMs(() => network(x, latent, blocks, target), runs);
  const forwardBackwardMs = timeMs(() => tf.grads((...vs: tf.Tensor[]) => {
    const [xs, ls, ...rest] = vs;
    const bs = Array.from({ length: BLOCKS }, (_, i) => ({
      affine: rest[3 * i] as tf.Tensor2D, weight: rest[3 * i + 1] as tf.Tensor4D, bias: rest[3 * i + 2] as tf.Tensor1D,
    }));
    return network(xs!, ls!, bs, target);
  })(variables), runs);
  tf.dispose([...variables, target]);
  return { forwardMs, forwardBackwardMs };
}

/** wasm's own Conv2DBackpropInput vs the engine's, on the same shapes. */
function measureBackpropInput(runs: number) {
  const builtin = builtinWasmKernel(tf.Conv2DBackpropInput);
  const engine = tf.getKernel(tf.Conv2DBackpropInput, 'wasm')!;
  const shapes = [
    { name: 'stride 1, 128×128×64', dy: [1, SIZE, SIZE, CHANNELS], out: [1, SIZE, SIZE, CHANNELS], stride: 1 },
    { name: 'stride 2 (upsample 64→128), 64 ch', dy: [1, SIZE / 2, SIZE / 2, CHANNELS], out: [1, SIZE, SIZE, CHANNELS], stride: 2 },
  ];
  const results: Record<string, { builtinMs: number; engineMs: number }> = {};
  for (const s of shapes) {
    const dy = seeded(s.dy, 4) as tf.Tensor4D;
    const filter = seeded([3, 3, CHANNELS, CHANNELS], 5) as tf.Tensor4D;
    const run = () => tf.conv2dTranspose(dy, filter, s.out as [number, number, number, number], s.stride, 'same');
    const engineMs = timeMs(run, runs);
    let builtinMs = NaN;
    if (builtin !== undefined) {
      tf.unregisterKernel(engine.kernelName, 'wasm');
      tf.registerKernel(builtin);
      // Its setup (binding the wasm function) never ran: it was unregistered before wasm started.
      builtin.setupFunc?.(tf.backend());
      try { builtinMs = timeMs(run, runs); } finally {
        tf.unregisterKernel(engine.kernelName, 'wasm');
        tf.registerKernel(engine);
      }
    }
    results[s.name] = { builtinMs, engineMs };
    tf.dispose([dy, filter]);
  }
  return results;
}

async function main(): Promise<void> {
  await initBackend({ backend: 'wasm' });
  const backend = describeBackend();
  const wasm = measureStack(3);
  const backpropInput = measureBackpropInput(3);
  let cpu: { forwardBackwardMs: number } | undefined;
  if (!quick) {
    await initBackend({ backend: 'cpu' });
    cpu = { forwardBackwardMs: measureStack(1).forwardBackwardMs };
    await initBackend({ backend: 'wasm' });
  }
  const result = {
    setup: `${BLOCKS} modulated 3×3 conv blocks, ${CHANNELS} channels, ${SIZE}×${SIZE}, batch 1`,
    backend: { name: backend.name, threads: backend.threads, simd: backend.simd },
    wasm,
    cpu,
    ratios: {
      forwardBackwardOverForward: wasm.forwardBackwardMs / wasm.forwardMs,
      cpuOverWasm: cpu === undefined ? undefined : cpu.forwardBackwardMs / wasm.forwardBackwardMs,
    },
    conv2dBackpropInput: backpropInput,
  };
  if (asJson) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  console.log(result.setup);
  console.log(`backend ${backend.name}, threads ${backend.threads}, simd ${backend.simd}`);
  console.log(`wasm forward          ${ms(wasm.forwardMs)}`);
  console.log(`wasm forward+backward ${ms(wasm.forwardBackwardMs)}  (ratio ${result.ratios.forwardBackwardOverForward.toFixed(2)}, target ≤ 3)`);
  if (cpu !== undefined) {
    console.log(`cpu  forward+backward ${ms(cpu.forwardBackwardMs)}  (cpu/wasm ${result.ratios.cpuOverWasm!.toFixed(1)}, target ≥ 50)`);
  }
  for (const [name, r] of Object.entries(backpropInput)) {
    console.log(`Conv2DBackpropInput ${name}: wasm built-in ${ms(r.builtinMs)}, engine ${ms(r.engineMs)}`);
  }
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${String(error instanceof Error ? error.message : error).slice(0, 300)}`);
  process.exitCode = 1;
});
