import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { runFacegar, spawnFacegar, type CliRun, type RunCliOptions } from '../../scripts/hostile/run-cli.ts';
import { modelDir, testCacheDir } from './shared-data.ts';

export { hasStackTrace, HOSTILE_MEMORY_LIMIT_BYTES, type CliRun } from '../../scripts/hostile/run-cli.ts';

const testEnv = (env?: Record<string, string | undefined>) => ({ FACEGAR_MODEL_DIR: modelDir, FACEGAR_CACHE_DIR: testCacheDir, FACEGAR_OFFLINE: '1', ...env });

/**
 * Run `facegar ...args` as a user would (through bin/facegar.mjs), with the test model and cache;
 * measures its peak memory. No time limit unless `timeoutMs` is given: on a busy machine a slow
 * run is still a passing run.
 */
export function runCli(args: string[], options: RunCliOptions = {}): Promise<CliRun> {
  return runFacegar(args, { ...options, env: testEnv(options.env) });
}

export interface RunningCli {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<CliRun>;
}

/** Start `facegar ...args` and hand each stdout line to `onLine` as it comes; `exited` settles at the end. */
export function startCli(
  args: string[],
  onLine: (line: string) => void,
  options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): RunningCli {
  const child = spawnFacegar(args, { env: testEnv(options.env) });
  const started = performance.now();
  let stdout = '',
    stderr = '';
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdout += line + '\n';
    onLine(line);
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
  const exited = new Promise<CliRun>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, wallMs: performance.now() - started });
    }),
  );
  return { child, stderr: () => stderr, exited };
}
