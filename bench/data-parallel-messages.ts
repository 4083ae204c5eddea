// The messages between the data-parallel trainer and its workers. The optimizer step is
// src/gar/adam.ts's adamStepFlat, in plain JS on flat Float32Arrays, so the main thread and every
// worker compute bit-identical weights from the same averaged gradient.
import type { AdamConfig } from '../src/gar/adam.ts';

/** One named batch input: float32 or int32 values, row-major, the first axis the batch axis. */
export interface BatchEntry {
  data: Float32Array | Int32Array;
  shape: number[];
}
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
