// A hostile-input case (issue 17): files made on the spot, one or more CLI runs over them, the
// exit codes that are right, and checks of what the runs left behind. Run by the tests (one
// test per case) and by scripts/fuzz-inputs.ts (all of them, plus random mutations).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HOSTILE_MEMORY_LIMIT_BYTES, hasStackTrace, repositoryRoot, runFacegar, type CliRun } from './run-cli.ts';

/** Where cases find real data (never copied into the repository): as the tests, from the environment. */
export interface CaseData {
  /** ICT-FaceKit folder ($FACEGAR_MODEL_DIR, else ../shared/models/ict-facekit). */
  modelDir: string;
  /** The example photos (../shared/photos/examples). */
  photosDir: string;
  /** Compact-model cache for the runs ($FACEGAR_CACHE_DIR, else .cache/hostile). */
  cacheDir: string;
  /** The shipped GAR and encoder (the repository's models/). */
  shippedModelsDir: string;
}

export function defaultCaseData(): CaseData {
  const sharedDir = process.env.FACEGAR_SHARED_DIR ?? resolve(repositoryRoot, '../shared');
  return {
    modelDir: process.env.FACEGAR_MODEL_DIR ?? join(sharedDir, 'models/ict-facekit'),
    photosDir: join(sharedDir, 'photos/examples'),
    cacheDir: process.env.FACEGAR_CACHE_DIR ?? join(repositoryRoot, '.cache', 'hostile'),
    shippedModelsDir: join(repositoryRoot, 'models'),
  };
}

export interface CaseStep {
  /** facegar's arguments. */
  args: string[];
  /** Exit codes that are right for this step. */
  expect: number[];
  /** stderr must match (the one-line reason). */
  message?: RegExp;
  env?: Record<string, string>;
  cwd?: string;
  wrapper?: string[];
}

export interface CasePlan {
  steps: CaseStep[];
  /** After the steps: what is wrong with what they left (empty = right). */
  verify?: (runs: CliRun[]) => Promise<string[]>;
}

export interface HostileCase {
  /** Short id, the fuzz table's first column. */
  name: string;
  /** The numbered item. */
  item: number;
  /** What it shows, as a sentence (the test's name). */
  title: string;
  /** Make the files under `dir`; a string says why the case cannot run on this machine. */
  make(dir: string, data: CaseData): Promise<CasePlan | string>;
}

export interface StepOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  peakRssBytes?: number;
  stderrTail: string;
}
export interface CaseOutcome {
  name: string;
  item: number;
  steps: StepOutcome[];
  problems: string[];
  skipped?: string;
}

/**
 * Make the case's files in a fresh temp folder, run its steps, and list every problem: a wrong
 * exit code, a missing reason, a stack trace, an "internal error", a hang (killed after
 * `timeoutMs`), peak memory past 1.5 GiB, or what its own checks find. The folder is removed.
 */
export async function runHostileCase(hostile: HostileCase, data = defaultCaseData(), timeoutMs = 120_000): Promise<CaseOutcome> {
  const dir = await mkdtemp(join(tmpdir(), `facegar-${hostile.name}-`));
  try {
    const plan = await hostile.make(dir, data);
    if (typeof plan === 'string') return { name: hostile.name, item: hostile.item, steps: [], problems: [], skipped: plan };
    const runs: CliRun[] = [];
    const problems: string[] = [];
    for (const [index, step] of plan.steps.entries()) {
      const env = { FACEGAR_MODEL_DIR: data.modelDir, FACEGAR_CACHE_DIR: data.cacheDir, FACEGAR_OFFLINE: '1', ...step.env };
      const run = await runFacegar(step.args, { env, cwd: step.cwd, wrapper: step.wrapper, timeoutMs });
      runs.push(run);
      problems.push(...stepProblems(run, step).map((p) => (plan.steps.length > 1 ? `step ${index + 1}: ${p}` : p)));
    }
    if (plan.verify && problems.length === 0) problems.push(...(await plan.verify(runs)));
    const steps = runs.map((run) => ({
      code: run.code,
      signal: run.signal,
      wallMs: run.wallMs,
      peakRssBytes: run.peakRssBytes,
      stderrTail: run.stderr.trim().split('\n').slice(-2).join(' | '),
    }));
    return { name: hostile.name, item: hostile.item, steps, problems };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function stepProblems(run: CliRun, step: CaseStep): string[] {
  const problems: string[] = [];
  const last = run.stderr.trim().split('\n').slice(-1)[0];
  if (run.signal) problems.push(`killed by ${run.signal} (a hang or a crash)`);
  else if (!step.expect.includes(run.code!)) problems.push(`exit ${run.code}, expected ${step.expect.join(' or ')}: ${last}`);
  if (step.message && !step.message.test(run.stderr)) problems.push(`stderr lacks ${step.message}: ${last}`);
  if (hasStackTrace(run.stderr)) problems.push('a stack trace reached the user');
  if (/internal error/.test(run.stderr)) problems.push(`an internal error: ${last}`);
  if (run.peakRssBytes === undefined) problems.push('no peak memory reported');
  else if (run.peakRssBytes >= HOSTILE_MEMORY_LIMIT_BYTES) problems.push(`peak memory ${(run.peakRssBytes / 2 ** 30).toFixed(2)} GiB`);
  return problems;
}
