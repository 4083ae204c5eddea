import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { modelDir, repositoryRoot, testCacheDir } from './shared-data.ts';

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak resident memory of the CLI process (bytes, its worker threads included); undefined when it was killed or not measured. */
  peakRssBytes?: number;
  /** Wall time of the run, for reports only (tests never assert on it). */
  wallMs: number;
}

export interface RunCliOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
  /** Run the node command through this one (e.g. ['unshare', '--mount', …]); it gets node and its arguments appended. */
  wrapper?: string[];
}

const peakMemoryReporter = pathToFileURL(join(repositoryRoot, 'test/helpers/report-peak-memory.mjs')).href;

/**
 * Run `facegar ...args` as a user would (through bin/facegar.mjs), with the test model and cache;
 * measures its peak memory. No time limit unless `timeoutMs` is given: on a busy machine a slow
 * run is still a passing run.
 */
export function runCli(args: string[], options: RunCliOptions = {}): Promise<CliRun> {
  const memoryDir = mkdtempSync(join(tmpdir(), 'facegar-rss-'));
  const memoryFile = join(memoryDir, 'peak');
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawnCli(args, { ...options, env: { ...options.env, FACEGAR_PEAK_MEMORY_FILE: memoryFile } }, ['--import', peakMemoryReporter]);
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let peakRssBytes: number | undefined;
      try { peakRssBytes = Number(readFileSync(memoryFile, 'utf8')); } catch { /* killed before it could report */ }
      rmSync(memoryDir, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr, peakRssBytes, wallMs: performance.now() - started });
    });
  });
}

function spawnCli(args: string[], options: RunCliOptions, nodeOptions: string[] = []) {
  const [program, ...programArgs] = [...(options.wrapper ?? []), process.execPath, ...nodeOptions, join(repositoryRoot, 'bin/facegar.mjs'), ...args];
  return spawn(program, programArgs, {
    cwd: options.cwd ?? repositoryRoot,
    env: { ...process.env, FACEGAR_MODEL_DIR: modelDir, FACEGAR_CACHE_DIR: testCacheDir, FACEGAR_OFFLINE: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface RunningCli { child: ChildProcess; stderr: () => string; exited: Promise<CliRun> }

/** Start `facegar ...args` and hand each stdout line to `onLine` as it comes; `exited` settles at the end. */
export function startCli(args: string[], onLine: (line: string) => void, options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {}): RunningCli {
  const child = spawnCli(args, options);
  const started = performance.now();
  let stdout = '', stderr = '';
  createInterface({ input: child.stdout }).on('line', (line) => { stdout += line + '\n'; onLine(line); });
  child.stderr.on('data', (d) => { stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
  const exited = new Promise<CliRun>((resolve) => child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr, wallMs: performance.now() - started }); }));
  return { child, stderr: () => stderr, exited };
}

/** 1.5 GiB: what any one hostile-input run may take (issue 17). */
export const HOSTILE_MEMORY_LIMIT_BYTES = 1.5 * 1024 ** 3;

/** A stack trace line ("    at fn (file:line)") must never reach a user. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+:\d+/m.test(text);
}
