// The work queue against a real Redis (a private redis-server on a free port): workers killed
// mid-batch lose nothing, outputs match a single-machine run, bad input fails once with its reason.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { hasStackTrace, runCli, startCli, type RunningCli } from '../helpers/cli.ts';
import { photosDir } from '../helpers/shared-data.ts';
import { freePort, redisMissing, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { compareFolders } from '../../scripts/batch-resume-check.ts';

// The fastest settings that still detect, fit and write every output.
const fast = ['--renderer', 'graphics', '--landmark-steps', '20', '--photometric-steps', '0'];
const GOOD_COUNT = 24;
// A run is stopped only when it hangs: a busy shared machine can take minutes over this batch.
const SLOW_MACHINE_MS = 20 * 60_000;

let redis: RedisServer | undefined;
before(async () => {
  if (!redisMissing) redis = await startRedisServer();
});
after(async () => {
  await redis?.stop();
});

interface WorkerEvent {
  event: string;
  input: string;
  stage?: string;
  attempt?: number;
  exitCode?: number;
  reason?: string;
  worker: string;
}

/** 40 inputs: 24 small copies of 4 example photos under other names, 16 bad files (text, truncated, no face). */
async function makeInputs(): Promise<{ dir: string; good: string[]; bad: Map<string, number> }> {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-queue-in-'));
  const sources = ['000002.jpg', '000037.jpg', '000114.jpg', '015259.jpg'];
  const small = await Promise.all(sources.map((name) => sharp(join(photosDir, name)).resize({ width: 320 }).jpeg({ quality: 90 }).toBuffer()));
  const good: string[] = [];
  for (let i = 0; i < GOOD_COUNT; i++) {
    const path = join(dir, `photo${String(i).padStart(2, '0')}.jpg`);
    await writeFile(path, small[i % small.length]!);
    good.push(path);
  }
  const bad = new Map<string, number>();
  const blank = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 90, g: 110, b: 130 } } })
    .jpeg()
    .toBuffer();
  for (let i = 0; i < 4; i++) {
    await writeFile(join(dir, `notes${i}.jpg`), `just text ${i}`);
    bad.set(join(dir, `notes${i}.jpg`), 4);
    await writeFile(join(dir, `empty${i}.png`), '');
    bad.set(join(dir, `empty${i}.png`), 4);
    await writeFile(join(dir, `cut${i}.jpg`), small[i]!.subarray(0, 200 + 50 * i));
    bad.set(join(dir, `cut${i}.jpg`), 4);
    await writeFile(join(dir, `wall${i}.jpg`), blank);
    bad.set(join(dir, `wall${i}.jpg`), 5);
  }
  return { dir, good, bad };
}

function startWorker(name: string, queue: string, events: WorkerEvent[], onEvent: (event: WorkerEvent) => void = () => {}): RunningCli {
  return startCli(
    ['worker', '--redis', redis!.url, '--queue', queue, '--json', '--concurrency', '1', '--lock-seconds', '8', '--exit-when-empty'],
    (line) => {
      const event = { ...JSON.parse(line), worker: name } as WorkerEvent;
      events.push(event);
      onEvent(event);
    },
    { timeoutMs: SLOW_MACHINE_MS },
  );
}

async function summaryLines(dir: string, pattern: RegExp): Promise<Array<{ input: string; status: string; exitCode: number; reason?: string }>> {
  const names = (await readdir(dir)).filter((name) => pattern.test(name));
  const texts = await Promise.all(names.map((name) => readFile(join(dir, name), 'utf8')));
  return texts.flatMap((text) =>
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line)),
  );
}

test(
  'two workers over 40 inputs, one SIGKILLed mid-batch and another started: each good input done once, outputs as one reconstruct, bad ones failed with reasons',
  { skip: redisMissing },
  async () => {
    const { dir, good, bad } = await makeInputs();
    const reference = await mkdtemp(join(tmpdir(), 'facegar-queue-ref-'));
    const single = await runCli(['reconstruct', dir, '--out', reference, ...fast, '-q'], { timeoutMs: SLOW_MACHINE_MS });
    assert.equal(single.code, 9, single.stderr);

    const out = await mkdtemp(join(tmpdir(), 'facegar-queue-out-'));
    const queue = 'batch-kill';
    const add = ['queue', 'add', dir, '--redis', redis!.url, '--queue', queue, '--out', out, '--attempts', '3', '--backoff', '1', ...fast];
    const added = await runCli([...add, '--json']);
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual(JSON.parse(added.stdout), { queue, redis: redis!.url, outDir: out, inputs: 40, added: 40, alreadyQueued: 0 });
    const again = await runCli([...add, '--json']);
    assert.equal(JSON.parse(again.stdout).added, 0, 'adding the same inputs again adds no job');

    const events: WorkerEvent[] = [];
    let killed: { input: string } | undefined;
    let workerC: RunningCli | undefined;
    const workerA: RunningCli = startWorker('A', queue, events, (event) => {
      // Kill A with a job in hand, once the batch is under way: mid-fit, long before its outputs.
      if (!killed && event.worker === 'A' && event.event === 'progress' && event.stage === 'detect' && events.filter((e) => e.event === 'done').length >= 6) {
        killed = { input: event.input };
        workerA.child.kill('SIGKILL');
        // What a kill during a write leaves (atomic-write.ts's temp name): the job's next taker removes it.
        void writeFile(join(out, `.${event.input.split('/').pop()!}.obj.99999.0badf00d.tmp`), 'half a mesh');
        workerC = startWorker('C', queue, events);
      }
    });
    const workerB = startWorker('B', queue, events);
    const [exitA, exitB] = await Promise.all([workerA.exited, workerB.exited]);
    assert.ok(killed, `worker A was never caught mid-job: ${JSON.stringify(events.filter((e) => e.worker === 'A').map((e) => e.event))}`);
    assert.equal(exitA.signal, 'SIGKILL');
    assert.equal(exitB.code, 0, exitB.stderr);
    const exitC = await workerC!.exited;
    assert.equal(exitC.code, 0, exitC.stderr);
    assert.ok(!hasStackTrace(exitB.stderr + exitC.stderr));

    // Every good input done exactly once; the killed job started twice, finished elsewhere.
    const count = (input: string, kind: string) => events.filter((e) => e.input === input && e.event === kind).length;
    for (const input of good) assert.equal(count(input, 'done'), 1, `${input}: ${count(input, 'done')} times done`);
    assert.equal(count(killed.input, 'start'), 2, 'the killed job was taken again');
    assert.ok(events.some((e) => e.input === killed!.input && e.event === 'done' && e.worker !== 'A'));
    const lines = await summaryLines(out, /^summary\.worker-.+\.jsonl$/);
    for (const input of good) assert.equal(lines.filter((l) => l.input === input && l.status === 'ok').length, 1, input);

    // Bad input: failed on the first attempt, with its reason and exit code, in the queue and the summaries.
    for (const [input, exitCode] of bad) {
      assert.equal(count(input, 'start'), 1, `${input} is not retried`);
      const line = lines.find((l) => l.input === input);
      assert.equal(line?.status, 'failed', input);
      assert.equal(line.exitCode, exitCode, input);
    }
    const status = await runCli(['queue', 'status', '--redis', redis!.url, '--queue', queue, '--failed', '--json']);
    const counts = JSON.parse(status.stdout);
    assert.deepEqual(
      { ...counts, failures: undefined },
      { queue, waiting: 0, active: 0, retrying: 0, done: GOOD_COUNT, failed: bad.size, failures: undefined },
    );
    const referenceLines = await summaryLines(reference, /^summary\.jsonl$/);
    for (const failure of counts.failures) {
      const name = failure.input.split('/').pop();
      assert.equal(failure.exitCode, bad.get(failure.input), name);
      assert.equal(failure.attempts, 1, name);
      assert.ok(failure.reason.startsWith(`${failure.input}: `), failure.reason);
      assert.equal(failure.reason, referenceLines.find((l) => l.input === failure.input)?.reason, 'the same reason as a single-machine run');
    }

    const waited = await runCli(['queue', 'status', '--redis', redis!.url, '--queue', queue, '--wait']);
    assert.equal(waited.code, 9, 'drained, some failed');
    assert.match(waited.stdout, new RegExp(`waiting 0 · active 0 · retrying 0 · done ${GOOD_COUNT} · failed ${bad.size}`));

    // Outputs byte for byte as one machine's (JSON without timings), no temp file left, one merged summary.
    const merged = await runCli(['merge-summary', out]);
    assert.equal(merged.code, 9, merged.stderr);
    assert.deepEqual(await compareFolders(reference, out, (name) => /^summary\..+\.jsonl$/.test(name)), []);
    const leftovers = (await readdir(out)).filter((name) => name.endsWith('.tmp'));
    assert.deepEqual(leftovers, []);
    await Promise.all([dir, reference, out].map((path) => rm(path, { recursive: true, force: true })));
  },
);

test("an error that is not the input's fault (output folder missing) is retried with backoff, then succeeds", { skip: redisMissing }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-queue-retry-'));
  await writeFile(join(dir, 'face.jpg'), await sharp(join(photosDir, '000002.jpg')).resize({ width: 320 }).jpeg().toBuffer());
  const blocker = join(dir, 'shared-volume');
  await writeFile(blocker, 'not mounted yet'); // a file where the output folder's parent should be
  const queue = 'retry';
  const added = await runCli([
    'queue',
    'add',
    join(dir, 'face.jpg'),
    '--redis',
    redis!.url,
    '--queue',
    queue,
    '--out',
    join(blocker, 'out'),
    '--attempts',
    '6',
    '--backoff',
    '1',
    ...fast,
  ]);
  assert.equal(added.code, 0, added.stderr);
  const events: WorkerEvent[] = [];
  const worker = startWorker('W', queue, events, (event) => {
    if (event.event === 'retry' && event.attempt === 1) {
      void rm(blocker).then(() => mkdir(blocker));
    }
  });
  const exit = await worker.exited;
  assert.equal(exit.code, 0, exit.stderr);
  const retry = events.find((e) => e.event === 'retry')!;
  assert.equal(retry.exitCode, 7, 'output not writable');
  assert.match(retry.reason!, /cannot write/);
  const starts = events.filter((e) => e.event === 'start').map((e) => e.attempt);
  assert.ok(starts.length >= 2 && starts.every((attempt, i) => attempt === i + 1), `attempts ${starts}`);
  assert.equal(events.at(-1)?.event, 'done');
  assert.ok((await readdir(join(blocker, 'out'))).includes('face.jpg.obj'));
  await rm(dir, { recursive: true, force: true });
});

test(
  'Redis unreachable: one line and exit 10 from queue add, queue status and worker; a worker that loses Redis exits 10 too',
  { skip: redisMissing },
  async () => {
    const nowhere = `redis://127.0.0.1:${await freePort()}`;
    const photo = join(photosDir, '000002.jpg');
    for (const args of [['queue', 'add', photo, '--out', tmpdir()], ['queue', 'status'], ['worker']]) {
      const run = await runCli([...args, '--redis', nowhere]);
      assert.equal(run.code, 10, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`^facegar: cannot reach the queue at ${nowhere} \\(ECONNREFUSED\\)`));
    }
    const usage = await runCli(['queue', 'status']);
    assert.equal(usage.code, 2, usage.stderr);

    const own = await startRedisServer();
    const events: WorkerEvent[] = [];
    const worker = startCli(['worker', '--redis', own.url, '--json', '--concurrency', '1', '--redis-timeout', '2'], (line) => events.push(JSON.parse(line)));
    await waitFor(() => /queue "facegar" at/.test(worker.stderr()));
    await own.stop();
    const exit = await worker.exited;
    assert.equal(exit.code, 10, exit.stderr);
    assert.match(exit.stderr, /facegar: lost the queue at redis:\/\/127\.0\.0\.1:\d+ for 2 s/);
    assert.ok(!hasStackTrace(exit.stderr), exit.stderr);
  },
);

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((done) => setTimeout(done, 100));
}
