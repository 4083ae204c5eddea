// `facegar queue add|status`: a batch as BullMQ jobs on Redis, for `facegar worker` on any
// number of machines (see docs/cluster.md).
import { resolve } from 'node:path';
import { EXIT_CODES, UsageError } from '../common/errors.ts';
import { integerOption, parseCommandArgs } from './command-options.ts';
import { RECONSTRUCT_SETTING_OPTIONS, readReconstructRequest } from './reconstruct-options.ts';
import {
  QUEUE_OPTIONS,
  QUEUE_OPTIONS_HELP,
  describeRedisUrl,
  isDrained,
  jobIdFor,
  namedCounts,
  openQueue,
  readRedisUrl,
  type QueueCounts,
} from './queue-connection.ts';

const HELP = `Usage: facegar queue add <inputs...> --redis <url> --out <dir> [reconstruct options]
       facegar queue status --redis <url> [--wait] [--failed] [--json]

add      one job per input (files, directories, quoted globs, as for facegar reconstruct). Paths
         are stored absolute: every worker must see the inputs and --out at the same paths (a
         shared volume). Adding the same inputs into the same --out again adds nothing new.
         The reconstruct options (--renderer, --preset, --format, --landmark-steps, …) travel
         with the jobs; each worker uses its own model files and backend.
status   counts of waiting, active, retrying, done and failed jobs; --wait shows a progress
         bar until no job is waiting, active or retrying, then exits 0 (all done) or 9 (some
         failed); --failed lists the failed inputs with their reasons.

Options:
${QUEUE_OPTIONS_HELP}
  -o, --out <dir>            [string] add: output directory every worker writes to (default: out)
      --attempts <n>         [number] add: tries per input for internal errors (default: 3); bad input
                             (missing, not an image, no face: exit 3, 4, 5) fails at once
      --backoff <s>          [number] add: first wait before a retry, doubled each time (default: 10)
      --wait                 [boolean] status: wait, with a progress bar, until the queue is drained
      --failed               [boolean] status: list failed inputs with their reasons
      --json                 [boolean] print one JSON object
  -q, --quiet                [boolean] status --wait: no progress bar
  -h, --help                 [boolean] this help
Exit codes: 0 ok · 2 usage · 9 some jobs failed (status --wait) · 10 Redis cannot be reached.
`;

const ADD_BATCH_SIZE = 500;

export async function run(args: string[]): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === undefined || subcommand === '--help' || subcommand === '-h') {
    process.stdout.write(HELP);
    return subcommand === undefined ? EXIT_CODES.usage : EXIT_CODES.ok;
  }
  if (subcommand === 'add') return await addCommand(rest);
  if (subcommand === 'status') return await statusCommand(rest);
  throw new UsageError(`unknown queue command "${subcommand}": expected add or status (try: facegar queue --help)`);
}

async function addCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      ...QUEUE_OPTIONS,
      ...RECONSTRUCT_SETTING_OPTIONS,
      out: { type: 'string', short: 'o', default: 'out' },
      attempts: { type: 'string', default: '3' },
      backoff: { type: 'string', default: '10' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    { allowPositionals: true },
  );
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT_CODES.ok;
  }
  if (positionals.length === 0) throw new UsageError('no inputs given (try: facegar queue --help)');
  const url = readRedisUrl(values.redis);
  const request = await readReconstructRequest(values);
  const attempts = integerOption(values.attempts, 'attempts', 1);
  const backoffMs = 1000 * Number(values.backoff);
  if (!(backoffMs >= 0)) throw new UsageError(`Expected a number ≥ 0 for --backoff but received ${values.backoff}`);
  if (values.out.trim() === '') throw new UsageError('--out is empty: name an output folder');
  const outDir = resolve(values.out);
  const { checkUniqueStems, expandInputs } = await import('./expand-inputs.ts');
  const inputs = await expandInputs(positionals, { outDir });
  if (inputs.length === 0) throw new UsageError(`no image files found in ${positionals.join(' ')}`);
  checkUniqueStems(inputs);
  const queue = await openQueue(url, values.queue);
  try {
    const total = async () => Object.values(await queue.getJobCounts()).reduce((sum, n) => sum + n, 0);
    const before = await total();
    for (let start = 0; start < inputs.length; start += ADD_BATCH_SIZE) {
      await queue.addBulk(
        inputs.slice(start, start + ADD_BATCH_SIZE).map((input) => {
          const path = resolve(input.path);
          return {
            name: 'reconstruct',
            data: { path, stem: input.stem, outDir, request },
            opts: { jobId: jobIdFor(outDir, path), attempts, backoff: { type: 'exponential', delay: backoffMs } },
          };
        }),
      );
    }
    const added = (await total()) - before;
    if (values.json)
      process.stdout.write(
        JSON.stringify({ queue: values.queue, redis: describeRedisUrl(url), outDir, inputs: inputs.length, added, alreadyQueued: inputs.length - added }) +
          '\n',
      );
    else
      process.stderr.write(
        `facegar: ${inputs.length} inputs → ${added} new jobs${added < inputs.length ? `, ${inputs.length - added} already queued` : ''} in queue "${values.queue}" at ${describeRedisUrl(url)}, outputs to ${values.out}\n`,
      );
  } finally {
    await queue.close();
  }
  return EXIT_CODES.ok;
}

async function statusCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      ...QUEUE_OPTIONS,
      wait: { type: 'boolean', default: false },
      failed: { type: 'boolean', default: false },
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
  const queue = await openQueue(readRedisUrl(values.redis), values.queue);
  try {
    const read = async () => namedCounts(await queue.getJobCounts());
    let counts = await read();
    if (values.wait) {
      const bar = new QueueBar(!values.quiet && !values.json);
      while (!isDrained(counts)) {
        bar.draw(counts);
        await new Promise((done) => setTimeout(done, 1000));
        counts = await read();
      }
      bar.close();
    }
    const failures = values.failed
      ? (await queue.getFailed(0, -1)).map((job) => ({
          input: job.data.path,
          reason: job.failedReason,
          exitCode: job.data.failure?.exitCode ?? EXIT_CODES.internal,
          attempts: job.attemptsMade,
        }))
      : undefined;
    if (values.json) process.stdout.write(JSON.stringify({ queue: values.queue, ...counts, ...(failures ? { failures } : {}) }) + '\n');
    else {
      process.stdout.write(formatCounts(counts) + '\n');
      for (const failure of failures ?? [])
        process.stdout.write(`✗ ${failure.reason} [exit ${failure.exitCode}, ${failure.attempts} attempt${failure.attempts === 1 ? '' : 's'}]\n`);
    }
    if (!values.wait) return EXIT_CODES.ok;
    return counts.failed > 0 ? EXIT_CODES.partialBatch : EXIT_CODES.ok;
  } finally {
    await queue.close();
  }
}

export function formatCounts(counts: QueueCounts): string {
  return `waiting ${counts.waiting} · active ${counts.active} · retrying ${counts.retrying} · done ${counts.done} · failed ${counts.failed}`;
}

/** The status line while waiting: a bar on a terminal, a line every 30 s elsewhere (logs). */
class QueueBar {
  private lastLine = 0;
  private shown = false;
  constructor(
    private readonly enabled: boolean,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  draw(counts: QueueCounts): void {
    if (!this.enabled) return;
    const total = counts.waiting + counts.active + counts.retrying + counts.done + counts.failed;
    const finished = counts.done + counts.failed;
    const width = 24;
    const filled = Math.round((width * finished) / Math.max(1, total));
    const text = `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${finished}/${total}  ${formatCounts(counts)}`;
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[2K${text.slice(0, (this.stream.columns ?? 100) - 1)}`);
      this.shown = true;
    } else if (Date.now() - this.lastLine > 30_000) {
      this.lastLine = Date.now();
      this.stream.write(text + '\n');
    }
  }

  close(): void {
    if (this.shown) this.stream.write('\r\x1b[2K');
  }
}
