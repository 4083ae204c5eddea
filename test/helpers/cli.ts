import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { modelDir, repositoryRoot, testCacheDir } from './shared-data.ts';

export interface CliRun { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/**
 * Run `facegar ...args` as a user would (through bin/facegar.mjs), with the test model and cache.
 * No time limit unless `timeoutMs` is given: on a busy machine a slow run is still a passing run.
 */
export function runCli(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawnCli(args, options);
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

function spawnCli(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string }) {
  return spawn(process.execPath, [join(repositoryRoot, 'bin/facegar.mjs'), ...args], {
    cwd: options.cwd ?? repositoryRoot,
    env: { ...process.env, FACEGAR_MODEL_DIR: modelDir, FACEGAR_CACHE_DIR: testCacheDir, FACEGAR_OFFLINE: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface RunningCli { child: ChildProcess; stderr: () => string; exited: Promise<CliRun> }

/** Start `facegar ...args` and hand each stdout line to `onLine` as it comes; `exited` settles at the end. */
export function startCli(args: string[], onLine: (line: string) => void, options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {}): RunningCli {
  const child = spawnCli(args, options);
  let stdout = '', stderr = '';
  createInterface({ input: child.stdout }).on('line', (line) => { stdout += line + '\n'; onLine(line); });
  child.stderr.on('data', (d) => { stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
  const exited = new Promise<CliRun>((resolve) => child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); }));
  return { child, stderr: () => stderr, exited };
}

/** A stack trace line ("    at fn (file:line)") must never reach a user. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+:\d+/m.test(text);
}
