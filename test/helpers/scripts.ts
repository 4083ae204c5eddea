import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RgbaImage } from '../../src/common/image.ts';
import { encodePng } from '../../src/io/node/encode-image.ts';
import { runCli, type CliRun } from './cli.ts';
import { modelDir, repositoryRoot, testCacheDir } from './shared-data.ts';

/** Run a repository script (`node --import tsx <script> …args`) with the test model and cache, offline. */
export function runScript(script: string, args: string[], options: { timeoutMs?: number } = {}): Promise<CliRun> {
  return runProcess(process.execPath, ['--import', 'tsx', join(repositoryRoot, script), ...args], options);
}

/** Run any program from the repository root with the test environment; never rejects. */
export function runProcess(program: string, args: string[], options: { timeoutMs?: number } = {}): Promise<CliRun> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(program, args, {
      cwd: repositoryRoot,
      env: { ...process.env, FACEGAR_MODEL_DIR: modelDir, FACEGAR_CACHE_DIR: testCacheDir, FACEGAR_OFFLINE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', (error) => {
      stderr += String(error);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, wallMs: performance.now() - started });
    });
  });
}

/**
 * A folder shaped like a `facegar prepare` output: `<dir>/<size>/<i>.png` per crop and a dataset.json
 * whose sources are `dir/photo<i>.jpg`. Crops are square RGBA images of one size.
 */
export async function writePreparedDataset(dir: string, crops: RgbaImage[]): Promise<void> {
  const size = crops[0].width;
  await mkdir(join(dir, String(size)), { recursive: true });
  for (const [i, crop] of crops.entries()) await writeFile(join(dir, String(size), `${i}.png`), await encodePng(crop));
  await writeFile(
    join(dir, 'dataset.json'),
    JSON.stringify({
      format: 1,
      sizes: [size],
      skipped: [],
      images: crops.map((_, i) => ({ id: String(i), source: `dir/photo${i}.jpg`, files: { [size]: `${size}/${i}.png` }, landmarks68: [] })),
    }),
  );
}

/**
 * A one-face studio set in `dir`/set (`eval synthetic --write-set … --n 1 --seed 3`), then `script`
 * run on it with `args` after `--set DIR`: its stdout rows "NAME  VALUE UNIT (mean over 1 faces)",
 * by name. `unit` is the text between the value and the count.
 */
export async function runScriptOnOneFaceSet(script: string, dir: string, args: string[], unit: string): Promise<Map<string, number>> {
  const written = await runCli(['eval', 'synthetic', '--write-set', join(dir, 'set'), '--n', '1', '--seed', '3', '--quiet']);
  assert.equal(written.code, 0, written.stderr.slice(-400));
  const run = await runScript(script, ['--set', join(dir, 'set'), ...args], { timeoutMs: 200_000 });
  assert.equal(run.code, 0, run.stderr.slice(-600));
  const pattern = new RegExp(`^(.+?)\\s+([\\d.]+) ${unit} \\(mean over (\\d+) faces\\)$`);
  return new Map(
    run.stdout
      .trim()
      .split('\n')
      .map((line) => {
        const match = pattern.exec(line);
        assert.ok(match, `line "${line}"`);
        assert.equal(match[3], '1');
        return [match[1], Number(match[2])] as const;
      }),
  );
}
