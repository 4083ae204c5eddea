import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, hasStackTrace } from '../helpers/cli.ts';
import { repositoryRoot } from '../helpers/shared-data.ts';
import { VERSION } from '../../src/cli/version.ts';
import { internalErrorLine } from '../../src/cli/main.ts';

test('facegar --help and reconstruct --help document the commands and options', async () => {
  const main = await runCli(['--help']);
  assert.equal(main.code, 0);
  assert.match(main.stdout, /facegar reconstruct <inputs\.\.\.>/);
  assert.match(main.stdout, /5 no face/);
  const help = await runCli(['reconstruct', '--help']);
  assert.equal(help.code, 0);
  for (const option of ['--out', '--model', '--format', '--resume', '--workers', '--json', '--max-faces']) assert.match(help.stdout, new RegExp(option));
});

test('--version matches package.json', async () => {
  const pkg = JSON.parse(await readFile(join(repositoryRoot, 'package.json'), 'utf8'));
  assert.equal(pkg.version, VERSION);
  const run = await runCli(['--version']);
  assert.equal(run.code, 0);
  assert.equal(run.stdout.trim(), `facegar ${VERSION}`);
});

test('usage errors: one line, exit code 2, no stack trace', async () => {
  for (const args of [
    [],
    ['frobnicate'],
    ['reconstruct'],
    ['reconstruct', 'x.jpg', '--format', 'fbx'],
    ['reconstruct', 'x.jpg', '--max-faces', 'zero'],
    ['reconstruct', 'x.jpg', '--bogus'],
  ]) {
    const run = await runCli(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.ok(!hasStackTrace(run.stderr), run.stderr);
    if (args.length > 0) assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  }
});

test('an abort of the wasm runtime is reported as the likely memory limit, with what to change', () => {
  const line = internalErrorLine(new Error('Aborted(). Build with -sASSERTIONS for more info.'));
  assert.match(line, /^internal error: the wasm tensor backend aborted \(Aborted\(\)\)/);
  assert.match(line, /out of memory/);
  assert.match(line, /--batch/);
  assert.match(line, /--resume/);
  assert.equal(internalErrorLine(new Error('something else\nsecond line')), 'internal error: something else');
  assert.equal(internalErrorLine('a string'), 'internal error: a string');
});
