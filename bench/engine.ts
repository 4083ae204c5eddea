// Engine benchmark (not a test): a StyleGAN2-like stack of modulated 3×3 convolutions standing
// in for the GAR generator, forward and forward+backward on wasm (and cpu), wasm's built-in vs
// the engine's Conv2DBackpropInput, and data-parallel training steps on 1 vs 2 worker threads.
// Run alone: node --import tsx bench/engine.ts [--json] [--quick] [--cpu-only]; bench/run.ts uses its exports.
import * as tf from '@tensorflow/tfjs-core';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { describeBackend, initBackend } from '../src/engine/backend.ts';
import { builtinWasmKernel } from '../src/engine/wasm-kernels.ts';
import type { DataParallelModel, TrainingBatch } from './data-parallel.ts';
import { GAR_PRESETS } from '../src/gar/gar-config.ts';
import { Generator } from '../src/gar/generator.ts';

/** What the bench needs of a generator: trainable variables and a forward pass. */
export interface BenchGenerator {
  readonly variables: tf.Variable[];
  /** input: [N, S, S, C] feature/normal map, latent: [N, latentSize] → [N, S, S, C]. */
  forward(input: tf.Tensor4D, latent: tf.Tensor2D): tf.Tensor4D;
  dispose(): void;
}

export interface BenchGeneratorConfig {
  size: number;
  channels: number;
  blocks: number;
  latentSize: number;
  seed: number;
}
// The GAR generator's own shapes: a 3-channel normal map in, z of the `base` preset (256), RGB out.
export const DEFAULT_BENCH_GENERATOR_CONFIG: BenchGeneratorConfig = { size: 128, channels: 3, blocks: 4, latentSize: 256, seed: 1 };

/**
 * The real GAR generator (`base` preset: 64 channels up to 128², 32 above; z and w 256), at
 * `config.size`. Adapts the bench's shapes: the input's first 3 channels are the normal map,
 * the latent is tiled/cut to zDim, and the RGB output is tiled to `config.channels`.
 */
export function createBenchGenerator(config: BenchGeneratorConfig): BenchGenerator {
  const generator = new Generator({ ...GAR_PRESETS.base, resolution: config.size }, config.seed);
  const { zDim } = generator.config;
  const forward = (input: tf.Tensor4D, latent: tf.Tensor2D) =>
    tf.tidy(() => {
      const [n, s, , c] = input.shape;
      const normals = tf.slice(input, [0, 0, 0, 0], [n, s, s, Math.min(3, c)]) as tf.Tensor4D;
      const z = tf.slice(tf.tile(latent, [1, Math.ceil(zDim / latent.shape[1])]), [0, 0], [n, zDim]) as tf.Tensor2D;
      const image = generator.generate(normals, z);
      return tf.slice(tf.tile(image, [1, 1, 1, Math.ceil(c / 3)]), [0, 0, 0, 0], [n, s, s, c]) as tf.Tensor4D;
    });
  return { variables: generator.trainableVariables(), forward, dispose: () => generator.dispose() };
}

/** Wall-clock and process CPU time of one call, in ms. */
interface RunTime {
  wallMs: number;
  cpuMs: number;
}

/**
 * Times of `runs` calls (after one warm-up unless told); each call reads its results back.
 * CPU time (this process, all its threads) is what a call costs whatever else runs on the
 * machine; wall time also counts the time other processes held the cores.
 */
function timeRunsWithCpu(run: () => tf.Tensor | tf.Tensor[], runs: number, warmUp = true): RunTime[] {
  const once = (): RunTime => {
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    tf.tidy(() => {
      const out = run();
      (Array.isArray(out) ? out : [out]).forEach((t) => t.dataSync());
    });
    const wallMs = performance.now() - start;
    const cpu = process.cpuUsage(cpuStart);
    return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
  };
  if (warmUp) once();
  return Array.from({ length: runs }, once);
}

/** Wall-clock times of `runs` calls (see timeRunsWithCpu). */
function timeRuns(run: () => tf.Tensor | tf.Tensor[], runs: number, warmUp = true): number[] {
  return timeRunsWithCpu(run, runs, warmUp).map((t) => t.wallMs);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
/** Best of the runs: on a machine shared with other jobs, the least-disturbed estimate. */
const best = (values: number[]) => Math.min(...values);

export interface GeneratorTimes {
  forwardMs: number;
  /** Gradients of an L2 loss w.r.t. the input, the latent and every generator variable. */
  forwardBackwardMs: number;
  /** Gradients w.r.t. the generator variables only (a training step's backward). */
  forwardBackwardParamsMs: number;
  /** Process CPU time of forwardMs / forwardBackwardMs (best of the runs): the work itself, independent of the machine's load. */
  forwardCpuMs: number;
  forwardBackwardCpuMs: number;
  runs: number;
}

/**
 * Forward and forward+backward of the bench generator on the current backend, batch 1.
 * The three are measured in turns (both backward variants, forward, repeat) and the best of
 * the runs kept, so a change of load on a shared machine hits all of them alike.
 */
export function measureGenerator(options: { size: number; runs: number; forwardBackwardOnly?: boolean; warmUp?: boolean }): GeneratorTimes {
  const config = { ...DEFAULT_BENCH_GENERATOR_CONFIG, size: options.size };
  const generator = createBenchGenerator(config);
  const { size, channels, latentSize } = config;
  // Variables, so that one backward pass can also differentiate with respect to them.
  const input = tf.variable(tf.randomNormal([1, size, size, channels], 0, 1, 'float32', 1)) as tf.Variable<tf.Rank.R4>;
  const latent = tf.variable(tf.randomNormal([1, latentSize], 0, 1, 'float32', 2)) as tf.Variable<tf.Rank.R2>;
  const target = tf.randomNormal([1, size, size, channels], 0, 1, 'float32', 3);
  const loss = (x: tf.Tensor, w: tf.Tensor): tf.Scalar => tf.mean(tf.square(tf.sub(generator.forward(x as tf.Tensor4D, w as tf.Tensor2D), target)));
  const forward = () => loss(input, latent);
  const all = () => {
    const { value, grads } = tf.variableGrads(forward, [input, latent, ...generator.variables]);
    return [value, ...Object.values(grads)];
  };
  const params = () => {
    const { value, grads } = tf.variableGrads(forward, generator.variables);
    return [value, ...Object.values(grads)];
  };
  const times = { forward: [] as RunTime[], all: [] as RunTime[], params: [] as number[] };
  const warmUp = options.warmUp ?? true;
  for (let r = 0; r < options.runs; r++) {
    times.all.push(...timeRunsWithCpu(all, 1, warmUp));
    if (options.forwardBackwardOnly) continue;
    times.forward.push(...timeRunsWithCpu(forward, 1, warmUp));
    times.params.push(...timeRuns(params, 1, warmUp));
  }
  tf.dispose([input, latent, target]);
  generator.dispose();
  const optional = (values: number[]) => (values.length === 0 ? NaN : best(values));
  return {
    forwardMs: optional(times.forward.map((t) => t.wallMs)),
    forwardBackwardMs: best(times.all.map((t) => t.wallMs)),
    forwardBackwardParamsMs: optional(times.params),
    forwardCpuMs: optional(times.forward.map((t) => t.cpuMs)),
    forwardBackwardCpuMs: best(times.all.map((t) => t.cpuMs)),
    runs: options.runs,
  };
}

/** wasm's own Conv2DBackpropInput vs the engine's, at 128×128×64. Call with wasm active. */
export function measureBackpropInput(runs: number): Record<string, { builtinMs: number; engineMs: number }> {
  const builtin = builtinWasmKernel(tf.Conv2DBackpropInput);
  const engine = tf.getKernel(tf.Conv2DBackpropInput, 'wasm')!;
  type Shape4 = [number, number, number, number];
  const shapes: Array<{ name: string; dy: Shape4; out: Shape4; stride: number }> = [
    { name: 'stride 1, 128×128×64', dy: [1, 128, 128, 64], out: [1, 128, 128, 64], stride: 1 },
    { name: 'stride 2 (upsample 64→128), 64 ch', dy: [1, 64, 64, 64], out: [1, 128, 128, 64], stride: 2 },
  ];
  const results: Record<string, { builtinMs: number; engineMs: number }> = {};
  for (const s of shapes) {
    const dy = tf.randomNormal(s.dy, 0, 1, 'float32', 4) as tf.Tensor4D;
    const filter = tf.randomNormal([3, 3, 64, 64], 0, 1, 'float32', 5) as tf.Tensor4D;
    const run = () => tf.conv2dTranspose(dy, filter, s.out, s.stride, 'same');
    const engineMs = median(timeRuns(run, runs));
    let builtinMs = NaN;
    if (builtin !== undefined) {
      tf.unregisterKernel(engine.kernelName, 'wasm');
      tf.registerKernel(builtin);
      // Its setup (binding the wasm function) never ran: it was unregistered before wasm started.
      builtin.setupFunc?.(tf.backend());
      try {
        builtinMs = median(timeRuns(run, runs));
      } finally {
        tf.unregisterKernel(engine.kernelName, 'wasm');
        tf.registerKernel(engine);
      }
    }
    results[s.name] = { builtinMs, engineMs };
    tf.dispose([dy, filter]);
  }
  return results;
}

/**
 * For the data-parallel trainer's workers (bench/data-parallel.ts): the bench generator
 * with an L2 loss. Batch entries: input [N, S, S, C], latent [N, latentSize], target [N, S, S, C].
 */
export function createModel(options: Partial<BenchGeneratorConfig> = {}): DataParallelModel {
  const generator = createBenchGenerator({ ...DEFAULT_BENCH_GENERATOR_CONFIG, ...options });
  return {
    variables: generator.variables,
    loss: (batch) => tf.tidy(() => tf.mean(tf.square(tf.sub(generator.forward(batch.input as tf.Tensor4D, batch.latent as tf.Tensor2D), batch.target!)))),
    dispose: () => generator.dispose(),
  };
}

/** A seeded training batch for createModel. */
export function makeTrainingBatch(size: number, config: BenchGeneratorConfig = DEFAULT_BENCH_GENERATOR_CONFIG): TrainingBatch {
  const { size: s, channels, latentSize } = config;
  const values = (count: number, seed: number) => {
    const out = new Float32Array(count);
    let state = seed >>> 0;
    for (let i = 0; i < count; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      out[i] = state / 2 ** 31 - 1;
    }
    return out;
  };
  return {
    input: { data: values(size * s * s * channels, 1), shape: [size, s, s, channels] },
    latent: { data: values(size * latentSize, 2), shape: [size, latentSize] },
    target: { data: values(size * s * s * channels, 3), shape: [size, s, s, channels] },
  };
}

export interface TrainingThroughput {
  batch: number;
  stepsPerSec: Record<string, number>;
  /** 2 workers over 1 worker, same batch. */
  speedup: number | null;
}

/** Training steps per second with 1 and 2 worker threads on the bench generator (same batch). */
export async function measureTraining(options: {
  batch: number;
  steps: number;
  size?: number;
  updates?: Array<'workers' | 'main'>;
}): Promise<TrainingThroughput> {
  const { createDataParallelTrainer } = await import('./data-parallel.ts');
  const modelOptions = { size: options.size ?? DEFAULT_BENCH_GENERATOR_CONFIG.size };
  const batch = makeTrainingBatch(options.batch, { ...DEFAULT_BENCH_GENERATOR_CONFIG, ...modelOptions });
  const stepsPerSec: Record<string, number> = {};
  const runs: Array<{ key: string; workers: number; update: 'workers' | 'main' }> = [{ key: '1', workers: 1, update: 'workers' }];
  for (const update of options.updates ?? ['workers']) runs.push({ key: update === 'workers' ? '2' : '2-main', workers: 2, update });
  for (const run of runs) {
    const trainer = await createDataParallelTrainer({ modulePath: fileURLToPath(import.meta.url), modelOptions, workers: run.workers, update: run.update });
    try {
      await trainer.step(batch); // warm-up
      const started = performance.now();
      for (let i = 0; i < options.steps; i++) await trainer.step(batch);
      stepsPerSec[run.key] = options.steps / ((performance.now() - started) / 1000);
    } finally {
      await trainer.close();
    }
  }
  return { batch: options.batch, stepsPerSec, speedup: stepsPerSec['2'] !== undefined ? stepsPerSec['2'] / stepsPerSec['1']! : null };
}

async function main(): Promise<void> {
  const args = new Set(process.argv.slice(2));
  if (args.has('--cpu-only')) {
    // The cpu backend takes minutes here: one forward+backward, no warm-up (it compiles nothing).
    await initBackend({ backend: 'cpu' });
    console.log(JSON.stringify({ cpu: measureGenerator({ size: 128, runs: 1, forwardBackwardOnly: true, warmUp: false }) }));
    return;
  }
  await initBackend({ backend: 'wasm' });
  const backend = describeBackend();
  const wasm = measureGenerator({ size: 128, runs: args.has('--quick') ? 3 : 5 });
  const backpropInput = measureBackpropInput(3);
  let cpu: GeneratorTimes | undefined;
  if (!args.has('--quick')) {
    await initBackend({ backend: 'cpu' });
    cpu = measureGenerator({ size: 128, runs: 1, forwardBackwardOnly: true, warmUp: false });
    await initBackend({ backend: 'wasm' });
  }
  const round2 = (value: number) => Math.round(value * 100) / 100;
  // The target is forward+backward ≤ 3× forward; the CPU-time ratio does not move with the machine's load.
  const ratios = { forwardBackwardOverForward: round2(wasm.forwardBackwardMs / wasm.forwardMs), cpu: round2(wasm.forwardBackwardCpuMs / wasm.forwardCpuMs) };
  const result = {
    backend: { name: backend.name, threads: backend.threads, simd: backend.simd, engineKernels: backend.engineKernels },
    wasm,
    ratios,
    cpu,
    backpropInput,
  };
  console.log(args.has('--json') ? JSON.stringify(result, null, 2) : result);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`bench failed: ${String(error instanceof Error ? error.message : error).slice(0, 300)}`);
    process.exitCode = 1;
  });
}
