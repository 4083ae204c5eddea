// Data-parallel training across worker threads (Node only): every worker holds its own wasm
// backend and a replica of the model, computes the gradient of its share of the batch, the
// main thread averages the gradients, and one Adam step is applied to identical weights.
import { Worker } from 'node:worker_threads';
import { resolve } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { invalidParameterError } from '../src/common/errors.ts';
import { adamStepFlat, createAdamState, DEFAULT_ADAM_CONFIG, validateAdamConfig, type AdamConfig, type AdamState } from '../src/gar/adam.ts';
import type { FromDataParallelWorker, ToDataParallelWorker, TrainingBatch } from './data-parallel-messages.ts';

export type { BatchEntry, TrainingBatch } from './data-parallel-messages.ts';

/** A model replica inside one worker. */
export interface DataParallelModel {
  /** Trainable variables, the same shapes in the same order in every worker (initial values are synchronised from worker 0). */
  readonly variables: tf.Variable[];
  /** Mean loss over the samples of `batch` (tensors built from a TrainingBatch shard, same names). */
  loss(batch: Record<string, tf.Tensor>): tf.Scalar;
  dispose?(): void;
}

/** What the module at `modulePath` must export. */
export interface DataParallelModelModule {
  createModel(options: unknown): DataParallelModel | Promise<DataParallelModel>;
}

export interface DataParallelConfig {
  /** Absolute or cwd-relative path of a module exporting `createModel` (TypeScript is fine). */
  modulePath: string;
  /** Passed to createModel in every worker (structured-cloneable). */
  modelOptions?: unknown;
  /** Worker threads, each with its own backend (default 2). */
  workers: number;
  /** Where Adam runs: 'workers' (each applies it to the averaged gradient) or 'main' (weights broadcast). */
  update: 'workers' | 'main';
  adam: AdamConfig;
  /** Backend in the workers (default: engine's choice, wasm in Node). */
  backend?: 'wasm' | 'cpu';
}

export const DEFAULT_DATA_PARALLEL_CONFIG: Omit<DataParallelConfig, 'modulePath'> = {
  workers: 2,
  update: 'workers',
  adam: DEFAULT_ADAM_CONFIG,
};

export function validateDataParallelConfig(config: DataParallelConfig): DataParallelConfig {
  if (typeof config.modulePath !== 'string' || config.modulePath === '') throw invalidParameterError('modulePath', 'a module path', config.modulePath);
  if (!Number.isInteger(config.workers) || config.workers < 1) throw invalidParameterError('workers', 'an integer ≥ 1', config.workers);
  if (config.update !== 'workers' && config.update !== 'main') throw invalidParameterError('update', "'workers' or 'main'", config.update);
  validateAdamConfig(config.adam);
  return config;
}

export interface StepResult {
  /** Mean loss over the whole batch, before the update. */
  loss: number;
  /** Wall time of the step (gradients, averaging, update sent), and the slowest worker's gradient time. */
  stepMs: number;
  slowestWorkerMs: number;
}

export interface DataParallelTrainer {
  readonly workers: number;
  readonly parameterCount: number;
  /** Gradient of the batch's mean loss with respect to all variables (flat), without updating. */
  gradients(batch: TrainingBatch): Promise<{ gradient: Float32Array; loss: number; slowestWorkerMs: number }>;
  /** One Adam step on the batch's mean loss. */
  step(batch: TrainingBatch): Promise<StepResult>;
  /** Current weights (flat, variable order), as held by worker 0. */
  weights(): Promise<Float32Array>;
  close(): Promise<void>;
}

/** One worker and the replies it owes, answered in order. */
class WorkerLink {
  private readonly waiting: Array<{ resolve: (m: FromDataParallelWorker) => void; reject: (e: Error) => void }> = [];
  private failure: Error | undefined;

  constructor(readonly worker: Worker) {
    worker.on('message', (message: FromDataParallelWorker) => {
      const next = this.waiting.shift();
      if (message.type === 'error') next?.reject(new Error(`data-parallel worker: ${message.message}`));
      else next?.resolve(message);
    });
    const fail = (error: Error) => {
      this.failure = error;
      for (const w of this.waiting.splice(0)) w.reject(error);
    };
    worker.on('error', (error) => fail(new Error(`data-parallel worker failed: ${String(error.message).split('\n')[0]}`)));
    worker.on('exit', (code) => {
      if (code !== 0) fail(new Error(`data-parallel worker exited with code ${code}`));
    });
  }

  request(message: ToDataParallelWorker, transfer: ArrayBuffer[] = []): Promise<FromDataParallelWorker> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolveReply, reject) => {
      this.waiting.push({ resolve: resolveReply, reject });
      this.worker.postMessage(message, transfer);
    });
  }
}

/** Start the worker threads, build a model replica in each and synchronise their weights. */
export async function createDataParallelTrainer(options: Partial<DataParallelConfig> & { modulePath: string }): Promise<DataParallelTrainer> {
  const config = validateDataParallelConfig({ ...DEFAULT_DATA_PARALLEL_CONFIG, ...options });
  const links = Array.from({ length: config.workers }, () => new WorkerLink(startWorker()));
  try {
    const ready = await Promise.all(
      links.map((link) =>
        link.request({
          type: 'init',
          modulePath: resolve(config.modulePath),
          modelOptions: config.modelOptions,
          backend: config.backend,
        }),
      ),
    );
    const parameterCount = (ready[0] as { parameterCount: number }).parameterCount;
    if (ready.some((r) => (r as { parameterCount: number }).parameterCount !== parameterCount)) {
      throw new Error('data-parallel workers built models of different sizes');
    }
    let weights = ((await links[0]!.request({ type: 'getWeights' })) as { weights: Float32Array }).weights;
    await Promise.all(links.slice(1).map((link) => link.request({ type: 'setWeights', weights: weights.slice() })));
    const adam: AdamState | undefined = config.update === 'main' ? createAdamState(parameterCount) : undefined;
    return new Trainer(links, parameterCount, config, weights, adam);
  } catch (error) {
    await Promise.all(links.map((link) => link.worker.terminate()));
    throw error;
  }
}

class Trainer implements DataParallelTrainer {
  constructor(
    private readonly links: WorkerLink[],
    readonly parameterCount: number,
    private readonly config: DataParallelConfig,
    private mainWeights: Float32Array,
    private readonly adam: AdamState | undefined,
  ) {}

  get workers(): number {
    return this.links.length;
  }

  async gradients(batch: TrainingBatch) {
    const shards = splitBatch(batch, this.links.length);
    const total = batchSize(batch);
    const replies = (await Promise.all(
      shards.map((shard, i) => {
        const transfer = Object.values(shard.batch).map((entry) => entry.data.buffer as ArrayBuffer);
        return this.links[i]!.request({ type: 'gradients', batch: shard.batch, weight: shard.size / total }, transfer);
      }),
    )) as Array<{ gradient: Float32Array; loss: number; computeMs: number }>;
    // Each worker already scaled its mean-loss gradient by its share of the batch.
    const gradient = replies[0]!.gradient;
    for (const reply of replies.slice(1)) for (let i = 0; i < gradient.length; i++) gradient[i]! += reply.gradient[i]!;
    const loss = replies.reduce((sum, reply, i) => sum + (reply.loss * shards[i]!.size) / total, 0);
    return { gradient, loss, slowestWorkerMs: Math.max(...replies.map((r) => r.computeMs)) };
  }

  async step(batch: TrainingBatch): Promise<StepResult> {
    const started = performance.now();
    const { gradient, loss, slowestWorkerMs } = await this.gradients(batch);
    if (this.adam !== undefined) {
      adamStepFlat(this.mainWeights, gradient, this.adam, this.config.adam);
      await Promise.all(
        this.links.map((link) => {
          const copy = this.mainWeights.slice();
          return link.request({ type: 'setWeights', weights: copy }, [copy.buffer]);
        }),
      );
    } else {
      await Promise.all(
        this.links.map((link, i) => {
          const copy = i === this.links.length - 1 ? gradient : gradient.slice();
          return link.request({ type: 'adam', gradient: copy, config: this.config.adam }, [copy.buffer as ArrayBuffer]);
        }),
      );
    }
    return { loss, stepMs: performance.now() - started, slowestWorkerMs };
  }

  async weights(): Promise<Float32Array> {
    return ((await this.links[0]!.request({ type: 'getWeights' })) as { weights: Float32Array }).weights;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.links.map(
        (link) =>
          new Promise<void>((done) => {
            link.worker.once('exit', () => done());
            link.worker.postMessage({ type: 'close' } satisfies ToDataParallelWorker);
          }),
      ),
    );
  }
}

/**
 * Worker threads do not inherit the tsx loader: a small inline entry registers it, then
 * loads the TypeScript worker (the same trick as src/cli/worker-entry.mjs, without a .mjs file).
 */
function startWorker(): Worker {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const workerUrl = new URL('./data-parallel-worker.ts', import.meta.url).href;
  const entry = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(workerUrl)}); });`;
  return new Worker(entry, { eval: true, stderr: false });
}

function batchSize(batch: TrainingBatch): number {
  const sizes = new Set(Object.values(batch).map((entry) => entry.shape[0]));
  if (sizes.size !== 1) throw invalidParameterError('batch', 'entries with the same first dimension', [...sizes].join(', '));
  const size = [...sizes][0]!;
  if (!(size! >= 1)) throw invalidParameterError('batch', 'at least one sample', size);
  return size!;
}

/** Split along the first axis into `parts` contiguous shards as even as possible (copies). */
export function splitBatch(batch: TrainingBatch, parts: number): Array<{ batch: TrainingBatch; size: number }> {
  const total = batchSize(batch);
  if (total < parts) throw invalidParameterError('batch', `at least ${parts} samples (one per worker)`, total);
  const shards: Array<{ batch: TrainingBatch; size: number }> = [];
  let start = 0;
  for (let p = 0; p < parts; p++) {
    const size = Math.floor(total / parts) + (p < total % parts ? 1 : 0);
    const shard: TrainingBatch = {};
    for (const [name, entry] of Object.entries(batch)) {
      const perSample = entry.data.length / total;
      shard[name] = { data: entry.data.slice(start * perSample, (start + size) * perSample), shape: [size, ...entry.shape.slice(1)] };
    }
    shards.push({ batch: shard, size });
    start += size;
  }
  return shards;
}
