import { Worker } from 'node:worker_threads';
import { appendFile, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, posix } from 'node:path';
import { EXIT_CODES } from '../common/errors.ts';
import { ensureWritableDirectory, notWritable, writeFileAtomic } from '../io/node/atomic-write.ts';
import { readRegularFile } from '../io/node/read-regular-file.ts';
import type { PlannedInput } from './expand-inputs.ts';
import { createProcessContext, processInput, type BatchSettings, type InputJob, type InputResult } from './process-input.ts';
import type { FromWorker, ToWorker } from './reconstruct-worker.ts';
import { BatchProgress, formatDuration } from './progress.ts';
import { reconstructWorkerEntry } from './worker-entry-url.ts';

export const SUMMARY_FILE = 'summary.jsonl';
/** Largest summary read by --resume (bytes): about a million inputs' lines. */
const MAX_SUMMARY_BYTES = 1024 * 1024 * 1024;

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
  // Only this batch's own leftovers (other shards or queue workers may be writing beside it), in
  // every folder its stems write to (a stem may hold subfolders, see stemFor).
  await removeStaleTempFiles(settings.outDir, new Set(options.inputs.map((input) => input.stem)), [basename(summaryPath)]);

  // Any summary in the folder counts (shards', workers', merged), so a resume may change --shard.
  const previous = options.resume ? await readAllSummaries(settings.outDir) : new Map<string, InputResult>();
  const kept: InputResult[] = [];
  const todo: InputJob[] = [];
  for (const [index, input] of options.inputs.entries()) {
    const earlier = previous.get(input.path);
    if (earlier && earlier.stem === input.stem && (await isComplete(earlier, settings.outDir))) kept.push(earlier);
    else todo.push({ index, path: input.path, stem: input.stem });
  }
  // The summary restarts with the lines of the inputs that are already done.
  await writeFileAtomic(summaryPath, kept.map((line) => JSON.stringify(line) + '\n').join(''));
  if (kept.length > 0) progress.log(`resuming: ${kept.length} of ${options.inputs.length} inputs already complete`);

  const results: InputResult[] = [...kept];
  const onResult = async (job: InputJob, result: InputResult) => {
    // Without its summary line a finished input would be redone on --resume: a failing append (full disk) ends the batch, exit 7.
    await appendFile(summaryPath, JSON.stringify(result) + '\n').catch((error) => {
      throw notWritable(summaryPath, error);
    });
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

async function runInThisThread(
  todo: InputJob[],
  settings: BatchSettings,
  progress: BatchProgress,
  onResult: (job: InputJob, result: InputResult) => Promise<void>,
): Promise<void> {
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

async function runInWorkers(
  todo: InputJob[],
  settings: BatchSettings,
  workerCount: number,
  progress: BatchProgress,
  onResult: (job: InputJob, result: InputResult) => Promise<void>,
): Promise<void> {
  const queue = [...todo];
  const entry = reconstructWorkerEntry();
  const live = new Set<Worker>();
  let failure: { error: unknown } | undefined;
  // A batch-wide failure (a fatal worker error, an unwritable summary) stops every worker: none may keep the process alive.
  const stopAll = (error: unknown) => {
    failure ??= { error };
    queue.length = 0;
    for (const worker of live) void worker.terminate();
  };
  // One worker per core; a worker that dies takes only its current input down, and a fresh one takes over.
  const runWorker = () =>
    new Promise<void>((resolveWorker, rejectWorker) => {
      const worker = new Worker(entry, { stdout: false, stderr: true });
      live.add(worker);
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
          pending.catch(stopAll);
          next();
        } else if (message.type === 'fatal') {
          stopAll(Object.assign(new Error(message.message), { exitCode: message.exitCode }));
        }
      });
      worker.on('error', () => undefined);
      worker.on('exit', (code) => {
        live.delete(worker);
        const lost = current;
        current = undefined;
        if (lost && code !== 0 && !failure) {
          const lostResult: InputResult = {
            input: lost.path,
            stem: lost.stem,
            status: 'failed',
            code: 'internal',
            exitCode: EXIT_CODES.internal,
            reason: `${lost.path}: internal error: worker exited with code ${code}`,
            outputs: [],
            timingsMs: {},
          };
          pending = pending.then(() => onResult(lost, lostResult));
        }
        pending.then(() => resolveWorker(), rejectWorker);
      });
      worker.postMessage({ type: 'init', settings } satisfies ToWorker);
    });
  const lane = async () => {
    while (queue.length > 0 && !failure) await runWorker().catch(stopAll);
  };
  await Promise.all(Array.from({ length: workerCount }, lane));
  if (failure) throw failure.error;
}

/**
 * summary.jsonl lines by input path. Only well-formed lines count: a line cut short by a kill,
 * or one with missing or mistyped fields, is dropped (its input is simply done again).
 */
export async function readSummary(path: string): Promise<Map<string, InputResult>> {
  const lines = new Map<string, InputResult>();
  // Not a regular file, or absurdly large: nothing is known to be done.
  const text = await readRegularFile(path, MAX_SUMMARY_BYTES).then(
    (bytes) => bytes.toString('utf8'),
    () => '',
  );
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue; // Half-written last line of a killed run.
    }
    const result = summaryLine(parsed);
    if (result) lines.set(result.input, result);
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

/** `value` as a summary line when every field has its type, else undefined. */
function summaryLine(value: unknown): InputResult | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const line = value as Record<string, unknown>;
  const ok =
    typeof line.input === 'string' &&
    typeof line.stem === 'string' &&
    (line.status === 'ok' || line.status === 'failed') &&
    Number.isInteger(line.exitCode) &&
    Array.isArray(line.outputs) &&
    line.outputs.every((name) => typeof name === 'string') &&
    (line.code === undefined || (typeof line.code === 'string' && line.code in EXIT_CODES)) &&
    typeof line.timingsMs === 'object' &&
    line.timingsMs !== null;
  return ok ? (line as unknown as InputResult) : undefined;
}

/**
 * Done means: it succeeded, its JSON (`<stem>.json`, written last) is among its outputs, and every
 * output it lists is a regular file inside the output folder. Anything else is done again.
 */
async function isComplete(line: InputResult, outDir: string): Promise<boolean> {
  if (line.status !== 'ok' || !line.outputs.includes(`${line.stem}.json`)) return false;
  for (const name of line.outputs) {
    if (!isInsideOutput(name)) return false;
    if (
      !(await stat(join(outDir, name)).then(
        (s) => s.isFile(),
        () => false,
      ))
    )
      return false;
  }
  return true;
}

/** A relative '/'-path that stays below the output folder (no '..', not absolute, no NUL). */
function isInsideOutput(name: string): boolean {
  return name !== '' && !name.includes('\0') && !name.includes('\\') && !isAbsolute(name) && posix.normalize(name) === name && !name.split('/').includes('..');
}

/**
 * Temp files of writes a kill interrupted (see atomic-write.ts for the naming), of the outputs
 * of the given stems (in the folders they write to) and of the named files (in `outDir`) only.
 */
export async function removeStaleTempFiles(outDir: string, stems: ReadonlySet<string>, names: string[] = []): Promise<void> {
  const byFolder = new Map<string, Set<string>>([[outDir, new Set()]]);
  for (const stem of stems) {
    const folder = dirname(join(outDir, stem));
    if (!byFolder.has(folder)) byFolder.set(folder, new Set());
    byFolder.get(folder)!.add(basename(stem));
  }
  for (const [folder, baseStems] of byFolder) {
    for (const name of await readdir(folder).catch(() => [] as string[])) {
      const target = /^\.(.+)\.\d+\.[0-9a-f]+\.tmp$/.exec(name)?.[1];
      const named = folder === outDir && names.includes(target ?? '');
      if (target !== undefined && (named || baseStems.has(stemOfOutput(target)) || baseStems.has(stemOfOutput(target, true))))
        await rm(join(folder, name), { force: true });
    }
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
