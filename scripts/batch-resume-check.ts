/**
 * Kill-and-resume check for batches: reconstruct N inputs (the example photos under other
 * names, plus a few bad files) once without interruption, and once killed with SIGKILL
 * half-way then resumed with --resume; the two output folders must end identical (JSON
 * compared without its timings, everything else byte for byte), with no temp files left.
 *
 *   node --import tsx scripts/batch-resume-check.ts [--count 200] [--fast]
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const sharedDir = process.env.FACEGAR_SHARED_DIR ?? resolve(repositoryRoot, '../shared');

export interface ResumeCheckResult {
  inputs: number;
  killedAfter: number;
  identical: boolean;
  differences: string[];
  uninterruptedMs: number;
  resumedMs: number;
}

export async function batchResumeCheck(options: { count: number; extraArgs?: string[]; env?: Record<string, string> }): Promise<ResumeCheckResult> {
  const inputs = await mkdtemp(join(tmpdir(), 'facegar-resume-in-'));
  const photos = (await readdir(join(sharedDir, 'photos/examples'))).filter((name) => name.endsWith('.jpg')).sort();
  const badCount = Math.max(1, Math.round(options.count / 50));
  for (let i = 0; i < options.count - badCount; i++) {
    await copyFile(join(sharedDir, 'photos/examples', photos[i % photos.length]), join(inputs, `input${String(i).padStart(4, '0')}.jpg`));
  }
  for (let i = 0; i < badCount; i++) await writeFile(join(inputs, `broken${i}.jpg`), `not an image ${i}`);

  const args = (out: string) => ['reconstruct', inputs, '--out', out, ...(options.extraArgs ?? [])];
  const outA = await mkdtemp(join(tmpdir(), 'facegar-resume-a-'));
  let started = Date.now();
  await runToEnd(args(outA), options.env);
  const uninterruptedMs = Date.now() - started;

  const outB = await mkdtemp(join(tmpdir(), 'facegar-resume-b-'));
  started = Date.now();
  const killedAfter = await runAndKill(args(outB), join(outB, 'summary.jsonl'), Math.floor(options.count / 2), options.env);
  await runToEnd([...args(outB), '--resume'], options.env);
  const resumedMs = Date.now() - started;

  const differences = await compareFolders(outA, outB);
  await Promise.all([inputs, outA, outB].map((dir) => rm(dir, { recursive: true, force: true })));
  return { inputs: options.count, killedAfter, identical: differences.length === 0, differences, uninterruptedMs, resumedMs };
}

function cliEnv(extra?: Record<string, string>) {
  return { ...process.env, FACEGAR_MODEL_DIR: process.env.FACEGAR_MODEL_DIR ?? join(sharedDir, 'models/ict-facekit'), FACEGAR_OFFLINE: '1', ...extra };
}

function runToEnd(args: string[], env?: Record<string, string>): Promise<number | null> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(repositoryRoot, 'bin/facegar.mjs'), ...args], { env: cliEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.resume();
    child.on('close', (code) => done(code));
  });
}

/** Start a batch and SIGKILL it once summary.jsonl holds `lines` lines; returns how many it held. */
function runAndKill(args: string[], summaryPath: string, lines: number, env?: Record<string, string>): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(repositoryRoot, 'bin/facegar.mjs'), ...args], { env: cliEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.resume();
    let seen = 0;
    const timer = setInterval(async () => {
      const text = await readFile(summaryPath, 'utf8').catch(() => '');
      seen = text.split('\n').filter(Boolean).length;
      if (seen >= lines) {
        child.kill('SIGKILL');
        clearInterval(timer);
      }
    }, 20);
    child.on('close', () => {
      clearInterval(timer);
      done(seen);
    });
  });
}

/** Differences between two output folders; JSON files and summary lines ignore timings; `ignore` leaves names out. */
export async function compareFolders(a: string, b: string, ignore: (name: string) => boolean = () => false): Promise<string[]> {
  const differences: string[] = [];
  const namesA = (await readdir(a)).filter((n) => !ignore(n)).sort(),
    namesB = (await readdir(b)).filter((n) => !ignore(n)).sort();
  const leftovers = [...namesA, ...namesB].filter((name) => name.endsWith('.tmp'));
  if (leftovers.length) differences.push(`temp files left: ${leftovers.join(', ')}`);
  if (JSON.stringify(namesA) !== JSON.stringify(namesB))
    differences.push(
      `file lists differ: ${namesA
        .filter((n) => !namesB.includes(n))
        .concat(namesB.filter((n) => !namesA.includes(n)))
        .join(', ')}`,
    );
  for (const name of namesA.filter((n) => namesB.includes(n))) {
    const [bytesA, bytesB] = await Promise.all([readFile(join(a, name)), readFile(join(b, name))]);
    if (name === 'summary.jsonl') {
      const normalise = (text: string) =>
        text
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.stringify(withoutTimings(JSON.parse(line))))
          .sort();
      if (JSON.stringify(normalise(bytesA.toString())) !== JSON.stringify(normalise(bytesB.toString()))) differences.push('summary.jsonl lines differ');
    } else if (name.endsWith('.json')) {
      if (JSON.stringify(withoutTimings(JSON.parse(bytesA.toString()))) !== JSON.stringify(withoutTimings(JSON.parse(bytesB.toString()))))
        differences.push(`${name} differs`);
    } else if (!bytesA.equals(bytesB)) differences.push(`${name} differs`);
  }
  return differences;
}

function withoutTimings(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimings);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => key !== 'timingsMs')
        .map(([key, v]) => [key, withoutTimings(v)]),
    );
  }
  return value;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const countIndex = process.argv.indexOf('--count');
  const count = countIndex > 0 ? Number(process.argv[countIndex + 1]) : 200;
  const extraArgs = process.argv.includes('--fast') ? ['--landmark-steps', '60', '--photometric-steps', '0'] : [];
  const result = await batchResumeCheck({ count, extraArgs });
  console.log(JSON.stringify(result, null, 1));
  process.exitCode = result.identical ? 0 : 1;
}
