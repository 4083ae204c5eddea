import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { modelDir, repositoryRoot, testCacheDir } from './shared-data.ts';

export interface CliRun { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Run `facegar ...args` as a user would (through bin/facegar.mjs), with the test model and cache. */
export function runCli(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repositoryRoot, 'bin/facegar.mjs'), ...args], {
      cwd: options.cwd ?? repositoryRoot,
      env: { ...process.env, FACEGAR_MODEL_DIR: modelDir, FACEGAR_CACHE_DIR: testCacheDir, FACEGAR_OFFLINE: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

/** A stack trace line ("    at fn (file:line)") must never reach a user. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+:\d+/m.test(text);
}
