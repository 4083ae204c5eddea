// `facegar worker --redis URL`: take reconstruction jobs from the BullMQ queue until stopped.
// Retries with backoff are BullMQ's (attempts and backoff were set by `queue add`); bad input
// fails at once; a worker killed mid-job stops renewing its lock and BullMQ's stalled-job check
// (run by the other workers) puts the job back for someone else.
import { appendFile } from 'node:fs/promises';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { EXIT_CODES, FacegarError, QueueUnavailableError } from '../common/errors.ts';
import { integerOption, optionalIntegerOption, parseCommandArgs } from './command-options.ts';
import { MACHINE_OPTIONS, prepareBatchSettings, readBackendOption } from './reconstruct-options.ts';
import {
  QUEUE_OPTIONS,
  QUEUE_OPTIONS_HELP,
  bullmqConnection,
  checkRedis,
  describeRedisUrl,
  isDrained,
  namedCounts,
  openQueue,
  readRedisUrl,
  withTimeout,
  type QueueJobData,
} from './queue-connection.ts';
import type { BatchSettings, InputResult } from './process-input.ts';

const HELP = `Usage: facegar worker --redis <url> [options]

Takes jobs added by facegar queue add and reconstructs them, writing the outputs atomically
into each job's output directory (shared by all workers) and one summary line per job into
<out>/summary.worker-<host>-<pid>-<id>.jsonl (facegar merge-summary joins them). Runs until
SIGTERM or SIGINT (then finishes the jobs in hand), or with --exit-when-empty until the queue
is drained. Internal errors are retried with backoff on any worker; bad input (exit 3, 4, 5)
fails at once with its reason. A worker killed outright loses nothing: once its lock runs out
(--lock-seconds) another worker takes its job.

Options:
${QUEUE_OPTIONS_HELP}
  -c, --concurrency <n>      [number] jobs at once, one thread each (default: number of cores, ${availableParallelism()} here)
      --lock-seconds <s>     [number] a job whose worker stops renewing its lock this long goes back to the
                             queue; also how often this worker checks for such jobs (default: 60)
      --exit-when-empty      [boolean] exit once no job is waiting, active or retrying
      --redis-timeout <s>    [number] give up (exit 10) when Redis is unreachable this long (default: 60)
  -m, --model <dir>          [string] ICT-FaceKit model directory (default: $FACEGAR_MODEL_DIR, cache, download)
      --backend <name>       [string] wasm | cpu | tensorflow (default: wasm)
      --offline              [boolean] never download the model (default: false)
      --json                 [boolean] one JSON line per event on stdout (start, progress, done, failed, retry)
  -q, --quiet                [boolean] no per-job lines
  -h, --help                 [boolean] this help
Exit codes: 0 stopped or drained · 2 usage · 6 model unavailable · 10 Redis cannot be reached.
`;

/** Bad input: retrying cannot help. */
const NOT_RETRIED = new Set<number>([EXIT_CODES.inputMissing, EXIT_CODES.inputNotImage, EXIT_CODES.noFace]);

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      ...QUEUE_OPTIONS,
      ...MACHINE_OPTIONS,
      concurrency: { type: 'string', short: 'c' },
      'lock-seconds': { type: 'string', default: '60' },
      'exit-when-empty': { type: 'boolean', default: false },
      'redis-timeout': { type: 'string', default: '60' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    { allowPositionals: false },
  );
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT_CODES.ok;
  }
  const url = readRedisUrl(values.redis);
  const concurrency = optionalIntegerOption(values.concurrency, 'concurrency', 1) ?? availableParallelism();
  const lockMs = 1000 * integerOption(values['lock-seconds'], 'lock-seconds', 1);
  const redisTimeoutMs = 1000 * integerOption(values['redis-timeout'], 'redis-timeout', 1);
  const backend = readBackendOption(values.backend);
  await checkRedis(url);
  // The model must be here before any job is taken: a worker without one exits 6 instead of failing jobs.
  const { loadMorphableModel } = await import('../io/node/load-morphable-model.ts');
  await loadMorphableModel({ modelDir: values.model, offline: values.offline || undefined });

  const log = createLog(values.json ? 'json' : values.quiet ? 'quiet' : 'text');
  const workerName = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const summaryName = `summary.worker-${workerName}.jsonl`;
  const { ReconstructThreadPool } = await import('./reconstruct-thread-pool.ts');
  const { ensureWritableDirectory, notWritable } = await import('../io/node/atomic-write.ts');
  const { removeStaleTempFiles, describeResult } = await import('./run-batch.ts');
  const pool = new ReconstructThreadPool(concurrency);
  const settingsByKey = new Map<string, Promise<BatchSettings>>();
  const settingsFor = (data: QueueJobData) => {
    const key = JSON.stringify([data.outDir, data.request]);
    if (!settingsByKey.has(key)) {
      const prepared = (async () => {
        await ensureWritableDirectory(data.outDir);
        return (await prepareBatchSettings(data.request, { outDir: data.outDir, modelDir: values.model, offline: values.offline, backend })).settings;
      })();
      prepared.catch(() => settingsByKey.delete(key)); // a failure (e.g. a volume not mounted yet) is tried again with the next job
      settingsByKey.set(key, prepared);
    }
    return settingsByKey.get(key)!;
  };
  const record = (data: QueueJobData, result: InputResult) => {
    const path = join(data.outDir, summaryName);
    return appendFile(path, JSON.stringify(result) + '\n').catch((error) => {
      throw notWritable(path, error);
    });
  };

  const { Worker, UnrecoverableError } = await import('bullmq');
  let index = 0;
  const worker = new Worker<QueueJobData, InputResult>(
    values.queue,
    async (job) => {
      const data = job.data;
      log.event('start', { job: job.id, input: data.path, attempt: job.attemptsMade + 1 });
      let stage = '';
      const result = await settingsFor(data).then(
        async (settings) => {
          // An earlier attempt killed mid-write left temp files of this input's outputs: remove them.
          if (job.attemptsStarted > 1) await removeStaleTempFiles(data.outDir, new Set([data.stem]));
          return pool.run(settings, { index: index++, path: data.path, stem: data.stem }, (fraction, nextStage) => {
            if (nextStage !== stage)
              log.event('progress', { job: job.id, input: data.path, stage: (stage = nextStage), fraction: Number(fraction.toFixed(3)) });
          });
        },
        (error) => failedResult(data, error),
      );
      if (result.status === 'ok') {
        await record(data, result);
        log.event('done', { job: job.id, input: data.path }, describeResult(result));
        return result;
      }
      const attempts = job.opts.attempts ?? 1;
      if (NOT_RETRIED.has(result.exitCode) || job.attemptsMade + 1 >= attempts) {
        await record(data, result).catch(() => undefined); // the reason is in the queue too, should the folder be unwritable
        await job.updateData({ ...data, failure: { code: result.code ?? 'internal', exitCode: result.exitCode } });
        log.event('failed', { job: job.id, input: data.path, exitCode: result.exitCode, reason: result.reason }, describeResult(result));
      } else {
        log.event(
          'retry',
          { job: job.id, input: data.path, exitCode: result.exitCode, reason: result.reason, attempt: job.attemptsMade + 1, attempts },
          `↻ ${result.reason} [exit ${result.exitCode}], attempt ${job.attemptsMade + 1} of ${attempts}`,
        );
      }
      throw NOT_RETRIED.has(result.exitCode) ? new UnrecoverableError(result.reason) : new Error(result.reason);
    },
    { connection: bullmqConnection(url), concurrency, lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 2, autorun: false },
  );
  worker.on('error', () => undefined); // connection trouble: the watchdog below decides

  const queue = await openQueue(url, values.queue);
  log.line(`facegar worker ${workerName}: queue "${values.queue}" at ${describeRedisUrl(url)}, ${concurrency} at a time`);
  const running = worker.run();

  let lastError = '';
  const stopped = new Promise<number>((resolveStop) => {
    const stop = (code: number) => {
      clearInterval(timer);
      resolveStop(code);
    };
    let unreachableSince: number | undefined,
      checking = false;
    const timer = setInterval(async () => {
      if (checking) return;
      checking = true;
      try {
        const counts = namedCounts(await withTimeout(queue.getJobCounts(), 3000));
        unreachableSince = undefined;
        if (values['exit-when-empty'] && isDrained(counts)) stop(EXIT_CODES.ok);
      } catch (error) {
        unreachableSince ??= Date.now();
        lastError = (error as NodeJS.ErrnoException)?.code ?? (error as Error)?.message ?? String(error);
        if (Date.now() - unreachableSince > redisTimeoutMs) stop(EXIT_CODES.queueUnavailable);
      } finally {
        checking = false;
      }
    }, 1000);
    for (const signal of ['SIGTERM', 'SIGINT'] as const)
      process.once(signal, () => {
        log.line(`facegar worker: ${signal}, finishing the jobs in hand`);
        stop(EXIT_CODES.ok);
      });
  });
  const exitCode = await stopped;
  // Redis gone: don't wait for BullMQ to hand back jobs it cannot reach; their locks run out and others take them.
  if (exitCode === EXIT_CODES.queueUnavailable) {
    await pool.close();
    // BullMQ's clients keep reconnecting and would hold the process open: exit once the error line is out.
    setTimeout(() => process.exit(EXIT_CODES.queueUnavailable), 200).unref();
    throw new QueueUnavailableError(`lost the queue at ${describeRedisUrl(url)} for ${Math.round(redisTimeoutMs / 1000)} s (${lastError})`);
  }
  await worker.close();
  await running.catch(() => undefined);
  await queue.close();
  await pool.close();
  return exitCode;
}

/** A job that failed before it reached a thread (its output folder, the model): a result line like processInput's. */
function failedResult(data: QueueJobData, error: unknown): InputResult {
  const known = error instanceof FacegarError ? error : undefined;
  const message = (error as Error)?.message?.split('\n')[0] ?? String(error);
  return {
    input: data.path,
    stem: data.stem,
    status: 'failed',
    code: known?.code ?? 'internal',
    exitCode: known?.exitCode ?? EXIT_CODES.internal,
    reason: `${data.path}: ${known ? '' : 'internal error: '}${message}`,
    outputs: [],
    timingsMs: {},
  };
}

/** Worker output: a line per finished job (stderr), or one JSON object per event (stdout). */
function createLog(mode: 'text' | 'json' | 'quiet') {
  return {
    event(event: string, fields: Record<string, unknown>, text?: string) {
      if (mode === 'json') process.stdout.write(JSON.stringify({ event, time: new Date().toISOString(), ...fields }) + '\n');
      else if (mode === 'text' && text) process.stderr.write(text + '\n');
    },
    line(text: string) {
      if (mode !== 'quiet') process.stderr.write(text + '\n');
    },
  };
}
