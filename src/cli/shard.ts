/**
 * Static sharding for batch schedulers (Kubernetes Indexed Jobs, Slurm arrays): every machine
 * expands the same inputs, hashes each one's path relative to its root and keeps the inputs
 * whose hash falls on its index, so the N machines split the work exactly without talking.
 */
import { createHash } from 'node:crypto';
import { UsageError } from '../common/errors.ts';
import type { PlannedInput } from './expand-inputs.ts';

export interface Shard {
  /** 0-based: 0 … count−1. */
  index: number;
  count: number;
  /** Where the index came from, for the progress line: '--shard', 'JOB_COMPLETION_INDEX', 'SLURM_ARRAY_TASK_ID'. */
  source: string;
}

/**
 * The shard an input belongs to: the first 32 bits (big-endian) of the SHA-256 of its
 * '/'-separated path relative to its root, modulo `count`. Documented in docs/cluster.md so
 * that other tools can reproduce the split.
 */
export function shardOfPath(relativePath: string, count: number): number {
  return createHash('sha256').update(relativePath, 'utf8').digest().readUInt32BE(0) % count;
}

/** The inputs of one shard, in their original order. */
export function selectShard(inputs: PlannedInput[], shard: Shard): PlannedInput[] {
  return inputs.filter((input) => shardOfPath(input.relativePath, shard.count) === shard.index);
}

/** "K/N" with 0 ≤ K < N. */
export function parseShardSpec(spec: string, source = '--shard'): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(spec.trim());
  const index = Number(match?.[1]),
    count = Number(match?.[2]);
  if (!match || count < 1 || index >= count) throw new UsageError(`Expected K/N with 0 ≤ K < N for ${source} but received ${spec}`);
  return { index, count, source };
}

/**
 * The shard to run: `--shard K/N` if given; else `JOB_COMPLETION_INDEX` (Kubernetes Indexed
 * Job) with `--shard-count N`; else a Slurm array (`SLURM_ARRAY_TASK_ID` counted from
 * `SLURM_ARRAY_TASK_MIN` in steps of `SLURM_ARRAY_TASK_STEP`, out of `SLURM_ARRAY_TASK_COUNT`);
 * else undefined (the whole batch).
 */
export function chooseShard(options: { shard?: string; shardCount?: string }, env: NodeJS.ProcessEnv = process.env): Shard | undefined {
  if (options.shard !== undefined) {
    if (options.shardCount !== undefined) throw new UsageError('--shard K/N already names the count: drop --shard-count');
    return parseShardSpec(options.shard);
  }
  if (options.shardCount !== undefined) {
    const count = Number(options.shardCount);
    if (!Number.isInteger(count) || count < 1) throw new UsageError(`Expected integer ≥ 1 for --shard-count but received ${options.shardCount}`);
    const index = env.JOB_COMPLETION_INDEX;
    if (index === undefined || index === '')
      throw new UsageError('--shard-count needs JOB_COMPLETION_INDEX (set in a Kubernetes Indexed Job); elsewhere use --shard K/N');
    return parseShardSpec(`${index}/${count}`, 'JOB_COMPLETION_INDEX with --shard-count');
  }
  const taskId = env.SLURM_ARRAY_TASK_ID;
  if (taskId !== undefined && taskId !== '') {
    const count = env.SLURM_ARRAY_TASK_COUNT;
    if (!count) throw new UsageError('SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not: pass --shard K/N');
    const min = Number(env.SLURM_ARRAY_TASK_MIN ?? 0),
      step = Number(env.SLURM_ARRAY_TASK_STEP ?? 1);
    const offset = (Number(taskId) - min) / step;
    // A list such as --array=1,5,9 has no regular step: the index would not be 0 … N−1.
    if (!Number.isInteger(offset))
      throw new UsageError(`SLURM_ARRAY_TASK_ID ${taskId} is not MIN + k·STEP (${min}, ${step}): use --array=0-(N-1), or pass --shard K/N`);
    return parseShardSpec(`${offset}/${count}`, 'SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT');
  }
  return undefined;
}

/** Summary file of one shard: shards may share one output directory, each writes its own. */
export function shardSummaryName(shard: Shard): string {
  return `summary.shard-${shard.index}-of-${shard.count}.jsonl`;
}
