// Many machines on one: photos per minute of one plain `facegar reconstruct`, of `--shard 0/2`
// beside `--shard 1/2`, and of 1 and 2 queue workers, as ratios within one run; and what the
// queue adds per job (BullMQ on a private redis-server: enqueue, take, complete; Redis memory).
// Each configuration runs as a user would run it (separate processes, start-up included). A
// "machine" here is one core: a shard or a queue worker gets one thread, the plain reconstruct
// both cores (its default here) and, for the overhead, one.
// Run: node --import tsx bench/cluster.ts [--photos 16] [--json]
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redisMissing, startRedisServer } from '../test/helpers/redis-server.ts';

const repositoryRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const sharedDir = process.env.FACEGAR_SHARED_DIR ?? resolve(repositoryRoot, '../shared');

export interface ClusterReport {
  photos: number;
  settings: string;
  /** Photos per minute, wall clock from the first process's start to the last one's end. */
  photosPerMin: { reconstruct: number; reconstruct1: number; shards2: number; queue1: number | null; queue2: number | null };
  /** Each against one plain reconstruct on both cores (same photos, same run). */
  ratios: { reconstruct1: number; shards2: number; queue1: number | null; queue2: number | null };
  /** BullMQ with a no-op processor: ms per job to enqueue (addBulk) and to take and complete (one worker, one at a time); Redis bytes per finished job. */
  queueOverhead: { jobs: number; enqueueMsPerJob: number; takeAndCompleteMsPerJob: number; redisBytesPerJob: number } | null;
  /** Why the queue rows are missing, if they are. */
  note?: string;
}

export async function benchCluster(options: { photos: number; onProgress?: (stage: string) => void }): Promise<ClusterReport> {
  const progress = options.onProgress ?? (() => {});
  const settings = ['--preset', 'fast'];
  const inputs = await mkdtemp(join(tmpdir(), 'facegar-bench-cluster-'));
  const examples = (await readdir(join(sharedDir, 'photos/examples'))).filter((name) => name.endsWith('.jpg')).sort();
  for (let i = 0; i < options.photos; i++)
    await copyFile(join(sharedDir, 'photos/examples', examples[i % examples.length]!), join(inputs, `photo${String(i).padStart(4, '0')}.jpg`));
  const perMin = (ms: number) => Number(((options.photos * 60_000) / ms).toFixed(1));
  const outDir = () => mkdtemp(join(tmpdir(), 'facegar-bench-cluster-out-'));
  const made: string[] = [inputs];
  try {
    progress(`cluster: one reconstruct of ${options.photos} photos, 2 threads`);
    let out = await outDir();
    made.push(out);
    const plainMs = await timed(() => facegar(['reconstruct', inputs, '--out', out, '--workers', '2', '-q', ...settings]));
    progress('cluster: one reconstruct, 1 thread');
    out = await outDir();
    made.push(out);
    const plain1Ms = await timed(() => facegar(['reconstruct', inputs, '--out', out, '--workers', '1', '-q', ...settings]));
    progress('cluster: --shard 0/2 beside --shard 1/2, 1 thread each');
    out = await outDir();
    made.push(out);
    const shardsMs = await timed(() =>
      Promise.all([0, 1].map((k) => facegar(['reconstruct', inputs, '--out', out, '--shard', `${k}/2`, '--workers', '1', '-q', ...settings]))),
    );
    let queue1: number | null = null,
      queue2: number | null = null,
      queueOverhead: ClusterReport['queueOverhead'] = null,
      note: string | undefined;
    if (redisMissing) note = `queue rows skipped: ${redisMissing}`;
    else {
      const redis = await startRedisServer();
      try {
        for (const workers of [1, 2]) {
          progress(`cluster: ${workers} queue worker${workers > 1 ? 's' : ''}, 1 thread each`);
          out = await outDir();
          made.push(out);
          const queue = `bench-${workers}`;
          const ms = await timed(async () => {
            await facegar(['queue', 'add', inputs, '--redis', redis.url, '--queue', queue, '--out', out, ...settings]);
            await Promise.all(
              Array.from({ length: workers }, () =>
                facegar(['worker', '--redis', redis.url, '--queue', queue, '--concurrency', '1', '--exit-when-empty', '-q']),
              ),
            );
          });
          if (workers === 1) queue1 = perMin(ms);
          else queue2 = perMin(ms);
        }
        progress('cluster: queue overhead per job (no-op jobs)');
        queueOverhead = await measureQueueOverhead(redis.url, 300);
      } finally {
        await redis.stop();
      }
    }
    const plain = perMin(plainMs);
    const ratio = (value: number | null) => (value === null ? null : Number((value / plain).toFixed(2)));
    return {
      photos: options.photos,
      settings: `facegar ${settings.join(' ')}, example photos (about 500 px); reconstruct --workers 2 (and 1); each shard --workers 1; each queue worker --concurrency 1`,
      photosPerMin: { reconstruct: plain, reconstruct1: perMin(plain1Ms), shards2: perMin(shardsMs), queue1, queue2 },
      ratios: { reconstruct1: ratio(perMin(plain1Ms))!, shards2: ratio(perMin(shardsMs))!, queue1: ratio(queue1), queue2: ratio(queue2) },
      queueOverhead,
      ...(note ? { note } : {}),
    };
  } finally {
    await Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

/** BullMQ alone: jobs shaped like facegar's, a processor that does nothing. */
async function measureQueueOverhead(url: string, jobs: number): Promise<NonNullable<ClusterReport['queueOverhead']>> {
  const { Queue, Worker } = await import('bullmq');
  const { Redis } = await import('ioredis');
  const { bullmqConnection } = await import('../src/cli/queue-connection.ts');
  const probe = new Redis(url);
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await probe.info('memory'))![1]);
  const queue = new Queue('overhead', { connection: bullmqConnection(url) });
  const before = await usedMemory();
  const request = { formats: ['obj'], maxFaces: 4, fit: {}, preset: 'fast', maxDecodeSidePx: 4096 };
  const started = performance.now();
  await queue.addBulk(
    Array.from({ length: jobs }, (_, i) => ({
      name: 'reconstruct',
      data: { path: `/shared/photos/set/photo${i}.jpg`, stem: `photo${i}`, outDir: '/shared/out', request },
      opts: { jobId: `in-${i}`, attempts: 3, backoff: { type: 'exponential', delay: 10_000 } },
    })),
  );
  const enqueueMs = performance.now() - started;
  let finished = 0;
  const workStarted = performance.now();
  const allDone = new Promise<void>((done) => {
    const worker = new Worker('overhead', async () => ({ status: 'ok', outputs: ['photo.obj', 'photo.overlay.png', 'photo.json'] }), {
      connection: bullmqConnection(url),
      concurrency: 1,
    });
    worker.on('completed', () => {
      if (++finished === jobs) void worker.close().then(done);
    });
  });
  await allDone;
  const workMs = performance.now() - workStarted;
  const bytes = (await usedMemory()) - before;
  await queue.close();
  probe.disconnect();
  return {
    jobs,
    enqueueMsPerJob: Number((enqueueMs / jobs).toFixed(3)),
    takeAndCompleteMsPerJob: Number((workMs / jobs).toFixed(2)),
    redisBytesPerJob: Math.round(bytes / jobs),
  };
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

/** Run the CLI to its end; a failure (any exit but 0) stops the benchmark with its stderr. */
function facegar(args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(repositoryRoot, 'bin/facegar.mjs'), ...args], {
      env: { ...process.env, FACEGAR_OFFLINE: process.env.FACEGAR_OFFLINE ?? '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) =>
      code === 0 ? resolvePromise() : reject(new Error(`facegar ${args[0]} exited with ${code}: ${stderr.trim().split('\n').at(-1)}`)),
    );
  });
}

export function formatClusterRows(report: ClusterReport): Array<[string, string, string]> {
  const rate = (value: number | null) => (value === null ? 'skipped' : `${value} photos/min`);
  const times = (value: number | null) => (value === null ? (report.note ?? '') : `${value}× one reconstruct`);
  const rows: Array<[string, string, string]> = [
    [`one reconstruct, ${report.photos} photos (--preset fast)`, rate(report.photosPerMin.reconstruct), '2 threads'],
    ['  one reconstruct, 1 thread', rate(report.photosPerMin.reconstruct1), times(report.ratios.reconstruct1)],
    ['  --shard 0/2 beside --shard 1/2, 1 thread each', rate(report.photosPerMin.shards2), times(report.ratios.shards2)],
    ['  1 queue worker, 1 thread', rate(report.photosPerMin.queue1), times(report.ratios.queue1)],
    ['  2 queue workers, 1 thread each', rate(report.photosPerMin.queue2), times(report.ratios.queue2)],
  ];
  if (report.queueOverhead) {
    const o = report.queueOverhead;
    rows.push([
      'queue overhead per job (BullMQ, local Redis)',
      `${o.takeAndCompleteMsPerJob} ms`,
      `+ ${o.enqueueMsPerJob} ms to enqueue, ${o.redisBytesPerJob} B of Redis memory per done job`,
    ]);
  }
  return rows;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const photosIndex = process.argv.indexOf('--photos');
  const photos = photosIndex > 0 ? Number(process.argv[photosIndex + 1]) : 16;
  const report = await benchCluster({ photos, onProgress: (stage) => process.stderr.write(`bench: ${stage}\n`) });
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(report) + '\n');
  else
    process.stdout.write(
      formatClusterRows(report)
        .map((row) => row.join('  '))
        .join('\n') + '\n',
    );
}
