/**
 * Hostile-input fuzzing (issue 17): make hostile files — the curated cases of the issue
 * (scripts/hostile/*-cases.ts) and seeded random mutations of photos, model, checkpoint and
 * benchmark files — run each through the CLI as a user would, and print a table: case, exit
 * code, wall time, peak memory, and whether it held (a documented exit code for it, its
 * one-line reason, no stack trace, no hang, under 1.5 GiB). Exit 1 when any case did not hold.
 *
 *   node --import tsx scripts/fuzz-inputs.ts [--seed 1] [--mutations 4] [--only NAME,…] [--curated-only] [--json]
 *
 * Reads the model and photos as the tests do ($FACEGAR_MODEL_DIR, ../shared/photos/examples);
 * runs one case at a time (the timings are those of a busy machine: for reports, not limits).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultCaseData, runHostileCase, type CaseOutcome, type HostileCase } from './hostile/case.ts';
import { DATASET_CASES } from './hostile/dataset-cases.ts';
import { INPUT_CASES } from './hostile/input-cases.ts';
import { MODEL_CASES } from './hostile/model-cases.ts';
import { mutationCases } from './hostile/mutation-cases.ts';

/** Every curated case, in the issue's order. */
export const CURATED_CASES: HostileCase[] = [...INPUT_CASES, ...MODEL_CASES, ...DATASET_CASES];

/** The table: one row per CLI run. */
export function formatTable(outcomes: CaseOutcome[]): string {
  const rows = [['item', 'case', 'exit', 'time s', 'peak MiB', 'held']];
  for (const outcome of outcomes) {
    if (outcome.skipped) {
      rows.push([String(outcome.item), outcome.name, '—', '—', '—', `skipped: ${outcome.skipped}`]);
      continue;
    }
    outcome.steps.forEach((step, i) =>
      rows.push([
        String(outcome.item),
        outcome.steps.length > 1 ? `${outcome.name} (${i + 1}/${outcome.steps.length})` : outcome.name,
        step.code === null ? String(step.signal) : String(step.code),
        (step.wallMs / 1000).toFixed(1),
        step.peakRssBytes === undefined ? '—' : (step.peakRssBytes / 2 ** 20).toFixed(0),
        i < outcome.steps.length - 1 ? '' : outcome.problems.length === 0 ? 'yes' : `NO: ${outcome.problems.join('; ')}`,
      ]),
    );
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => (c === 5 ? cell : cell.padEnd(widths[c]))).join(' | ')} |`;
  return [line(rows[0]), `|${widths.map((w, c) => '-'.repeat(c === 5 ? 6 : w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n') + '\n';
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: '1' },
      mutations: { type: 'string', default: '4' },
      only: { type: 'string' },
      'curated-only': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const seed = Number(values.seed),
    mutations = Number(values.mutations);
  let cases = [...CURATED_CASES, ...(values['curated-only'] ? [] : mutationCases(seed, mutations))];
  if (values.only) cases = cases.filter((c) => values.only!.split(',').includes(c.name));
  const data = defaultCaseData();
  const outcomes: CaseOutcome[] = [];
  for (const hostile of cases) {
    const outcome = await runHostileCase(hostile, data);
    outcomes.push(outcome);
    const last = outcome.steps.at(-1);
    process.stderr.write(
      `${outcome.name}: ${outcome.skipped ? `skipped (${outcome.skipped})` : `exit ${last?.code ?? last?.signal}${outcome.problems.length ? ` — ${outcome.problems.join('; ')}` : ''}`}\n`,
    );
  }
  if (values.json) process.stdout.write(JSON.stringify(outcomes) + '\n');
  else process.stdout.write(formatTable(outcomes));
  const failed = outcomes.filter((o) => o.problems.length > 0);
  process.stdout.write(
    `${outcomes.length - failed.length} of ${outcomes.length} cases held${failed.length ? `; failed: ${failed.map((o) => o.name).join(', ')}` : ''}\n`,
  );
  process.exitCode = failed.length ? 1 : 0;
}
