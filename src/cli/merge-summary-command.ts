// `facegar merge-summary <out dir>`: one summary.jsonl for a run split over machines. Shards
// (summary.shard-K-of-N.jsonl) and queue workers (summary.worker-….jsonl) each write their own
// part, since appends from several machines to one file on a shared volume can interleave.
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXIT_CODES, InputMissingError, UsageError } from '../common/errors.ts';
import { parseCommandArgs } from './command-options.ts';
import { writeFileAtomic } from '../io/node/atomic-write.ts';
import { SUMMARY_FILE, batchExitCode, isSummaryFile, readAllSummaries } from './run-batch.ts';

const HELP = `Usage: facegar merge-summary <out dir> [options]

Joins every summary in <out dir> (summary.jsonl and the parts written by --shard runs and by
queue workers) into <out dir>/summary.jsonl: one line per input, sorted by input path; where an
input has several lines (a retried job), a success wins over a failure. The parts stay. The
exit code is the batch's: 0 all ok, 9 some failed (or the code they all share).

Options:
      --json     [boolean] print the counts as one JSON object
  -h, --help     [boolean] this help
`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    { allowPositionals: true },
  );
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT_CODES.ok;
  }
  if (positionals.length !== 1) throw new UsageError('expected one output directory (try: facegar merge-summary --help)');
  const outDir = resolve(positionals[0]!);
  const parts = (await readdir(outDir).catch(() => [] as string[])).filter(isSummaryFile);
  if (parts.length === 0) throw new InputMissingError(`${positionals[0]}: no summary files (summary.jsonl, summary.*.jsonl) found`);
  const merged = [...(await readAllSummaries(outDir)).values()].sort((a, b) => (a.input < b.input ? -1 : a.input > b.input ? 1 : 0));
  await writeFileAtomic(join(outDir, SUMMARY_FILE), merged.map((line) => JSON.stringify(line) + '\n').join(''));
  const ok = merged.filter((line) => line.status === 'ok').length;
  const exitCode = batchExitCode(merged);
  if (values.json)
    process.stdout.write(JSON.stringify({ outDir, parts: parts.length, inputs: merged.length, ok, failed: merged.length - ok, exitCode }) + '\n');
  else
    process.stderr.write(
      `facegar: ${parts.length} summaries merged: ${merged.length} inputs, ${ok} ok, ${merged.length - ok} failed → ${join(positionals[0]!, SUMMARY_FILE)}\n`,
    );
  return exitCode;
}
