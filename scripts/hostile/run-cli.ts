// Run the facegar CLI as a user would (bin/facegar.mjs in a child process) and measure it: exit
// code, wall time and peak resident memory. Shared by the tests (test/helpers/cli.ts) and the
// hostile-input fuzz script (scripts/fuzz-inputs.ts).
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repositoryRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak resident memory of the CLI process (bytes, its worker threads included); undefined when it was killed. */
  peakRssBytes?: number;
  /** Wall time of the run, for reports only (tests never assert on it). */
  wallMs: number;
}

export interface RunCliOptions {
  /** Added to the environment (the rest is inherited). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Killed (SIGKILL) after this long: a hang shows as signal SIGKILL. Default: no limit. */
  timeoutMs?: number;
  /** Run the node command through this one (e.g. ['unshare', '--mount', …]); node and its arguments are appended. */
  wrapper?: string[];
}

/** 1.5 GiB: what any one run on hostile input may take (issue 17). */
export const HOSTILE_MEMORY_LIMIT_BYTES = 1.5 * 1024 ** 3;

const peakMemoryReporter = pathToFileURL(join(repositoryRoot, 'scripts/hostile/report-peak-memory.mjs')).href;

/** Start `facegar ...args` (node `nodeOptions` bin/facegar.mjs …, through `options.wrapper` if any), stdout and stderr piped. */
export function spawnFacegar(
  args: string[],
  options: Omit<RunCliOptions, 'timeoutMs'> = {},
  nodeOptions: string[] = [],
): ChildProcessByStdio<null, Readable, Readable> {
  const [program, ...programArgs] = [...(options.wrapper ?? []), process.execPath, ...nodeOptions, join(repositoryRoot, 'bin/facegar.mjs'), ...args];
  return spawn(program, programArgs, { cwd: options.cwd ?? repositoryRoot, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `facegar ...args` in a child process, its peak memory reported by a preloaded module at exit. */
export function runFacegar(args: string[], options: RunCliOptions = {}): Promise<CliRun> {
  const memoryDir = mkdtempSync(join(tmpdir(), 'facegar-rss-'));
  const memoryFile = join(memoryDir, 'peak');
  const started = performance.now();
  return new Promise((resolveRun) => {
    const child = spawnFacegar(args, { ...options, env: { ...options.env, FACEGAR_PEAK_MEMORY_FILE: memoryFile } }, ['--import', peakMemoryReporter]);
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let peakRssBytes: number | undefined;
      try {
        peakRssBytes = Number(readFileSync(memoryFile, 'utf8'));
      } catch {
        /* killed before it could report */
      }
      rmSync(memoryDir, { recursive: true, force: true });
      resolveRun({ code, signal, stdout, stderr, peakRssBytes, wallMs: performance.now() - started });
    });
  });
}

/** A stack trace line ("    at fn (file:line)") must never reach a user. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+:\d+/m.test(text);
}
