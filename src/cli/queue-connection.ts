// The work queue's shared pieces: options, the Redis check that turns "cannot connect" into one
// line and exit 10, job ids and job data. BullMQ and ioredis load only here, on demand, so
// `facegar reconstruct` never loads them.
import { createHash } from 'node:crypto';
import { QueueUnavailableError, UsageError } from '../common/errors.ts';
import type { OptionSpec } from './command-options.ts';
import type { ReconstructRequest } from './reconstruct-options.ts';

export const DEFAULT_QUEUE_NAME = 'facegar';

export const QUEUE_OPTIONS = {
  redis: { type: 'string' },
  queue: { type: 'string', default: DEFAULT_QUEUE_NAME },
} as const satisfies OptionSpec;

export const QUEUE_OPTIONS_HELP = `      --redis <url>          [string] Redis server, redis://[user:password@]host:port[/db] or rediss:// (TLS)
                             (default: $FACEGAR_REDIS_URL)
      --queue <name>         [string] queue name, so several batches can share one Redis (default: ${DEFAULT_QUEUE_NAME})`;

/** One job = one input. Plain JSON, stored in Redis. */
export interface QueueJobData {
  /** Absolute path as seen by `queue add`: every worker must see the inputs at the same path (a shared volume). */
  path: string;
  /** Output base name, unique within the batch that was added. */
  stem: string;
  /** Absolute output directory, shared by the workers. */
  outDir: string;
  request: ReconstructRequest;
  /** Set by the worker when the input itself is bad (exit 3, 4, 5): not retried. */
  failure?: { code: string; exitCode: number };
}

/** The same input into the same folder is the same job: `queue add` run twice adds nothing new. */
export function jobIdFor(outDir: string, path: string): string {
  return 'in-' + createHash('sha256').update(`${outDir}\0${path}`).digest('hex').slice(0, 32);
}

/** --redis, else $FACEGAR_REDIS_URL; checked for a redis:// or rediss:// scheme. */
export function readRedisUrl(value: string | undefined): string {
  const url = value ?? process.env.FACEGAR_REDIS_URL;
  if (!url) throw new UsageError('--redis <url> is required (or set FACEGAR_REDIS_URL), e.g. --redis redis://127.0.0.1:6379');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`Expected a URL such as redis://host:6379 for --redis but received ${url}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new UsageError(`Expected a redis:// or rediss:// URL for --redis but received ${url}`);
  return url;
}

/** The URL without its password, for messages. */
export function describeRedisUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString().replace(/\/$/, '');
}

/** Connection options for BullMQ's own clients: reconnect quietly, every few seconds at most. */
export function bullmqConnection(url: string) {
  return { url, maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(500 * times, 5000) };
}

/**
 * Connect once and PING, without retrying; throws QueueUnavailableError ("cannot reach the
 * queue at redis://…: ECONNREFUSED") when Redis does not answer within `timeoutMs`.
 */
export async function checkRedis(url: string, timeoutMs = 5000): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    enableOfflineQueue: false,
  });
  let lastError: unknown;
  client.on('error', (error) => {
    lastError = error;
  });
  try {
    await client.connect();
    await withTimeout(client.ping(), timeoutMs);
  } catch (error) {
    const cause = lastError ?? error;
    const code = (cause as NodeJS.ErrnoException)?.code ?? (cause as Error)?.message?.split('\n')[0] ?? String(cause);
    throw new QueueUnavailableError(`cannot reach the queue at ${describeRedisUrl(url)} (${code})`, { cause });
  } finally {
    client.disconnect();
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Check Redis (exit 10 when unreachable), then open the BullMQ queue; the caller closes it. */
export async function openQueue(url: string, name: string) {
  await checkRedis(url);
  const { Queue } = await import('bullmq');
  const queue = new Queue<QueueJobData>(name, { connection: bullmqConnection(url) });
  queue.on('error', () => undefined); // connection trouble surfaces through the awaited calls
  return queue;
}

/** Job counts as the CLI names them: waiting (incl. prioritized), active, retrying (delayed by backoff), done, failed. */
export interface QueueCounts {
  waiting: number;
  active: number;
  retrying: number;
  done: number;
  failed: number;
}

export function namedCounts(raw: Record<string, number>): QueueCounts {
  return {
    waiting: (raw.waiting ?? 0) + (raw.prioritized ?? 0) + (raw['waiting-children'] ?? 0) + (raw.paused ?? 0),
    active: raw.active ?? 0,
    retrying: raw.delayed ?? 0,
    done: raw.completed ?? 0,
    failed: raw.failed ?? 0,
  };
}

/** Nothing left to run: no job waiting, active or waiting for a retry. */
export function isDrained(counts: QueueCounts): boolean {
  return counts.waiting + counts.active + counts.retrying === 0;
}
