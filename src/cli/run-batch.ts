import { Worker } from 'node:worker_threads';
import { appendFile, readFile, readdir, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { EXIT_CODES } from '../common/errors.ts';
import { ensureWritableDirectory, writeFileAtomic } from '../io/node/atomic-write.ts';
import type { PlannedInput } from './expand-inputs.ts';
import { createProcessContext, processInput, type BatchSettings, type InputJob, type InputResult } from './process-input.ts';
import type { FromWorker, ToWorker } from './reconstruct-worker.ts';
import { BatchProgress, formatDuration } from './progress.ts';
import { reconstructWorkerEntry } from './worker-entry-url.ts';

export const SUMMARY_FILE = 'summary.jsonl';

export interface BatchOptions {
  settings: BatchSettings;
  inputs: PlannedInput[];
  /** Skip inputs whose outputs are complete from an earlier run. */
  resume: boolean;
  /** Worker threads (each holds its own backend and model). 1 = run in this thread. */
  workers: number;
  progress: BatchProgress;
  /** This run's summary file in the output directory (default summary.jsonl; a shard writes its own, see shard.ts). */
  summaryName?: string;
}

export interface BatchOutcome {
  results: InputResult[];
  skipped: number;
  exitCode: number;
  elapsedMs: number;
}

/**
 * Run a batch: each input's outputs are written atomically and a line goes to summary.jsonl as
 * it finishes, so a batch killed at any moment can be resumed; a resumed batch ends with the
 * same outputs and summary lines as an uninterrupted one (timings aside).
 */
export async function runBatch(options: BatchOptions): Promise<BatchOutcome> {
  const started = performance.now();
  const { settings, progress } = options;
  await ensureWritableDirectory(settings.outDir);
  const summaryPath = join(settings.outDir, options.summaryName ?? SUMMARY_FILE);
  // Only this batch's own leftovers: other shards or queue workers may be writing beside it.
  await removeStaleTempFiles(settings.outDir, new Set(options.inputs.map((input) => input.stem)), [basename(summaryPath)]);

  // Any summary in the folder counts (shards', workers', merged), so a resume may change --shard.
  const previous = options.resume ? await readAllSummaries(settings.outDir) : new Map<string, InputResult>();
  const kept: InputResult[] = [];
  const todo: InputJob[] = [];
  for (const [index, input] of options.inputs.entries()) {
    const earlier = previous.get(input.path);
    if (earlier && earlier.stem === input.stem && await isComplete(earlier, settings.outDir)) kept.push(earlier);
    else todo.push({ index, path: input.path, stem: input.stem });
  }
  // The summary restarts with the lines of the inputs that are already done.
  await writeFileAtomic(summaryPath, kept.map((line) => JSON.stringify(line) + '\n').join(''));
  if (kept.length > 0) progress.log(`resuming: ${kept.length} of ${options.inputs.length} inputs already complete`);

  const results: InputResult[] = [...kept];
  const onResult = async (job: InputJob, result: InputResult) => {
    await appendFile(summaryPath, JSON.stringify(result) + '\n');
    results.push(result);
    progress.finish(job.index, describeResult(result));
  };
  const workerCount = Math.max(1, Math.min(options.workers, todo.length));
  if (todo.length > 0) {
    if (workerCount === 1) await runInThisThread(todo, settings, progress, onResult);
    else await runInWorkers(todo, settings, workerCount, progress, onResult);
  }
  const order = new Map(options.inputs.map((input, i) => [input.path, i]));
  results.sort((a, b) => (order.get(a.input) ?? 0) - (order.get(b.input) ?? 0));
  return { results, skipped: kept.length, exitCode: batchExitCode(results), elapsedMs: performance.now() - started };
}

async function runInThisThread(todo: InputJob[], settings: BatchSettings, progress: BatchProgress, onResult: (job: InputJob, result: InputResult) => Promise<void>): Promise<void> {
  const context = await createProcessContext(settings);
  try {
    for (const job of todo) {
      const result = await processInput(job, context, (fraction, stage) => progress.update(job.index, job.stem, fraction, stage));
      await onResult(job, result);
    }
  } finally {
    context.reconstructor.dispose();
  }
}

async function runInWorkers(todo: InputJob[], settings: BatchSettings, workerCount: number, progress: BatchProgress, onResult: (job: InputJob, result: InputResult) => Promise<void>): Promise<void> {
  const queue = [...todo];
  const entry = reconstructWorkerEntry();
  // One worker per core; a worker that dies takes only its current input down, and a fresh one takes over.
  const runWorker = () => new Promise<void>((resolveWorker, rejectWorker) => {
    const worker = new Worker(entry, { stdout: false, stderr: true });
    let current: InputJob | undefined;
    let pending = Promise.resolve();
    const next = () => {
      current = queue.shift();
      if (current) worker.postMessage({ type: 'job', job: current } satisfies ToWorker);
      else worker.postMessage({ type: 'stop' } satisfies ToWorker);
    };
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') next();
      else if (message.type === 'progress' && current) progress.update(message.index, current.stem, message.fraction, message.stage);
      else if (message.type === 'result' && current) {
        const job = current;
        pending = pending.then(() => onResult(job, message.result));
        next();
      } else if (message.type === 'fatal') {
        void worker.terminate();
        rejectWorker(Object.assign(new Error(message.message), { exitCode: message.exitCode }));
      }
    });
    worker.on('error', () => undefined);
    worker.on('exit', (code) => {
      const lost = current;
      current = undefined;
      if (lost && code !== 0) {
        const failure: InputResult = { input: lost.path, stem: lost.stem, status: 'failed', code: 'internal', exitCode: EXIT_CODES.internal, reason: `${lost.path}: internal error: worker exited with code ${code}`, outputs: [], timingsMs: {} };
        pending = pending.then(() => onResult(lost, failure));
      }
      pending.then(() => resolveWorker(), rejectWorker);
    });
    worker.postMessage({ type: 'init', settings } satisfies ToWorker);
  });
  const lane = async () => { while (queue.length > 0) await runWorker(); };
  await Promise.all(Array.from({ length: workerCount }, lane));
}

/** summary.jsonl lines by input path; a line cut short by a kill is ignored. */
export async function readSummary(path: string): Promise<Map<string, InputResult>> {
  const lines = new Map<string, InputResult>();
  const text = await readFile(path, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const parsed = JSON.parse(line) as InputResult;
      if (typeof parsed.input === 'string') lines.set(parsed.input, parsed);
    } catch {
      // Half-written last line of a killed run.
    }
  }
  return lines;
}

/** A summary file: summary.jsonl, or a part written by a shard or a queue worker (summary.<part>.jsonl). */
export function isSummaryFile(name: string): boolean {
  return name === SUMMARY_FILE || /^summary\.[^/]+\.jsonl$/.test(name);
}

/** Every summary file's lines in `outDir`, one per input; a success wins over a failure. */
export async function readAllSummaries(outDir: string): Promise<Map<string, InputResult>> {
  const names = (await readdir(outDir).catch(() => [] as string[])).filter(isSummaryFile).sort();
  const merged = new Map<string, InputResult>();
  for (const name of names) {
    for (const [input, line] of await readSummary(join(outDir, name))) {
      if (merged.get(input)?.status !== 'ok' || line.status === 'ok') merged.set(input, line);
    }
  }
  return merged;
}

/** Done means: it succeeded and every output it listed is still there. Failures are retried. */
async function isComplete(line: InputResult, outDir: string): Promise<boolean> {
  if (line.status !== 'ok' || line.outputs.length === 0) return false;
  for (const name of line.outputs) {
    if (!(await stat(join(outDir, name)).then((s) => s.isFile(), () => false))) return false;
  }
  return true;
}

/**
 * Temp files of writes a kill interrupted (see atomic-write.ts for the naming), of the outputs
 * of the given stems and of the named files only.
 */
export async function removeStaleTempFiles(dir: string, stems: ReadonlySet<string>, names: string[] = []): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const target = /^\.(.+)\.\d+\.[0-9a-f]+\.tmp$/.exec(name)?.[1];
    if (target !== undefined && (names.includes(target) || stems.has(stemOfOutput(target)) || stems.has(stemOfOutput(target, true)))) await rm(join(dir, name), { force: true });
  }
}

/** `<stem>.obj`, `<stem>.face2.glb`, `<stem>.overlay.png`, … → `<stem>` (`perFace`: strip a `.faceN` too). */
function stemOfOutput(name: string, perFace = false): string {
  const base = name.replace(/\.(?:obj|ply|glb|gar\.png|overlay\.png|json)$/, '');
  return perFace ? base.replace(/\.face\d+$/, '') : base;
}

export function batchExitCode(results: InputResult[]): number {
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length === 0) return EXIT_CODES.ok;
  const codes = new Set(failed.map((r) => r.exitCode));
  if (failed.length === results.length && codes.size === 1) return failed[0].exitCode;
  return EXIT_CODES.partialBatch;
}

export function describeResult(result: InputResult): string {
  if (result.status === 'ok') {
    const faces = result.faces === 1 ? '1 face' : `${result.faces} faces`;
    return `✓ ${result.input}  ${faces}, landmark error ${result.landmarkErrorPx?.toFixed(2)} px, ${formatDuration(result.timingsMs.total ?? 0)}`;
  }
  return `✗ ${result.reason} [exit ${result.exitCode}]`;
}
