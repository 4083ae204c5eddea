// The optimizer step and the messages shared by the data-parallel trainer and its workers.
// Adam runs in plain JS on flat Float32Arrays so the main thread and every worker compute
// bit-identical weights from the same averaged gradient.
import { invalidParameterError } from '../../common/errors.ts';

export interface AdamConfig {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export const DEFAULT_ADAM_CONFIG: AdamConfig = { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

export function validateAdamConfig(config: AdamConfig): AdamConfig {
  const { learningRate, beta1, beta2, epsilon } = config;
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) throw invalidParameterError('adam.learningRate', 'a positive number', learningRate);
  if (!(beta1 >= 0 && beta1 < 1)) throw invalidParameterError('adam.beta1', 'a number in [0, 1)', beta1);
  if (!(beta2 >= 0 && beta2 < 1)) throw invalidParameterError('adam.beta2', 'a number in [0, 1)', beta2);
  if (!(epsilon > 0)) throw invalidParameterError('adam.epsilon', 'a positive number', epsilon);
  return config;
}

/** First and second moment estimates and the step count, one float per parameter. */
export interface AdamState { m: Float32Array; v: Float32Array; step: number }

export function createAdamState(parameterCount: number): AdamState {
  return { m: new Float32Array(parameterCount), v: new Float32Array(parameterCount), step: 0 };
}

/** One bias-corrected Adam step, in place on `weights` and `state`. */
export function adamStep(weights: Float32Array, gradient: Float32Array, state: AdamState, config: AdamConfig): void {
  const { learningRate, beta1, beta2, epsilon } = config;
  state.step += 1;
  const stepSize = learningRate * Math.sqrt(1 - beta2 ** state.step) / (1 - beta1 ** state.step);
  const { m, v } = state;
  for (let i = 0; i < weights.length; i++) {
    const g = gradient[i]!;
    m[i] = beta1 * m[i]! + (1 - beta1) * g;
    v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
    weights[i] = weights[i]! - stepSize * m[i]! / (Math.sqrt(v[i]!) + epsilon);
  }
}

/** One named batch input: float32 or int32 values, row-major, the first axis the batch axis. */
export interface BatchEntry { data: Float32Array | Int32Array; shape: number[] }
export type TrainingBatch = Record<string, BatchEntry>;

export type ToDataParallelWorker =
  | { type: 'init'; modulePath: string; modelOptions: unknown; backend: string | undefined }
  | { type: 'gradients'; batch: TrainingBatch; weight: number }
  | { type: 'setWeights'; weights: Float32Array }
  | { type: 'adam'; gradient: Float32Array; config: AdamConfig }
  | { type: 'getWeights' }
  | { type: 'close' };

export type FromDataParallelWorker =
  | { type: 'ready'; parameterCount: number; backend: string }
  | { type: 'gradients'; gradient: Float32Array; loss: number; computeMs: number }
  | { type: 'weights'; weights: Float32Array }
  | { type: 'done' }
  | { type: 'error'; message: string };
