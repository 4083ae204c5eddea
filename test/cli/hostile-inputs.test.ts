// Issue 17, inputs and batches: each hostile case ends at once with one line, a documented exit
// code and bounded memory, and no good output is lost or overwritten. Every file is made here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { HOSTILE_MEMORY_LIMIT_BYTES, hasStackTrace, runCli, type CliRun } from '../helpers/cli.ts';
import { photosDir } from '../helpers/shared-data.ts';

const fast = ['--renderer', 'graphics', '--landmark-steps', '20', '--photometric-steps', '0'];
const photo = join(photosDir, '000114.jpg');

/** Exit code, one line of our own, no stack trace, memory under the limit. */
function assertClean(run: CliRun, exitCode: number, message?: RegExp): void {
  assert.equal(run.code, exitCode, run.stderr);
  assert.ok(!hasStackTrace(run.stderr), run.stderr);
  if (message) assert.match(run.stderr, message);
  assert.ok(run.peakRssBytes !== undefined && run.peakRssBytes < HOSTILE_MEMORY_LIMIT_BYTES, `peak memory ${run.peakRssBytes} bytes`);
}

/** summary.jsonl's lines, in the order inputs finished (worker threads: not the input order). */
async function summary(out: string): Promise<{ input: string; stem: string; status: string; exitCode: number; outputs: string[] }[]> {
  return (await readFile(join(out, 'summary.jsonl'), 'utf8')).trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

test('a FIFO given by name or found in a folder, and /dev/zero: exit 4 at once, the batch goes on', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-fifo-'));
  await mkdir(join(dir, 'scan'));
  execFileSync('mkfifo', [join(dir, 'f.jpg')]);
  execFileSync('mkfifo', [join(dir, 'scan', 'g.jpg')]);
  const out = join(dir, 'out');
  const named = await runCli(['reconstruct', join(dir, 'f.jpg'), '--out', out, ...fast], { timeoutMs: 60_000 });
  assertClean(named, 4, /f\.jpg: not a regular file \(a FIFO\)/);

  const scanned = await runCli(['reconstruct', join(dir, 'scan'), join(dir, 'missing.jpg'), '/dev/zero', '--out', out, ...fast], { timeoutMs: 60_000 });
  assertClean(scanned, 9, /g\.jpg: not a regular file \(a FIFO\)/);
  assert.match(scanned.stderr, /\/dev\/zero: not a regular file \(a character device\)/);
  const lines = await summary(out);
  assert.deepEqual(lines.map((l) => [l.stem, l.exitCode]).sort(), [['g.jpg', 4], ['missing.jpg', 3], ['zero', 4]]);
});

test('a regular file past the 256 MiB input limit is refused before reading', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-big-'));
  const big = join(dir, 'big.jpg');
  await writeFile(big, await readFile(photo));
  await truncate(big, 300 * 1024 * 1024); // sparse: no disk used
  const run = await runCli(['reconstruct', big, '--out', join(dir, 'out'), ...fast], { timeoutMs: 60_000 });
  assertClean(run, 4, /big\.jpg: file too large \(over 256 MiB\)/);
});

test('a.jpg, a.png and a-2.jpg in one batch keep their own outputs, and --resume in another order keeps them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-stems-'));
  await copyFile(photo, join(dir, 'a.jpg'));
  await sharp(photo).png().toFile(join(dir, 'a.png'));
  await sharp(photo).flop().jpeg().toFile(join(dir, 'a-2.jpg')); // another picture, so overwriting would show
  const out = join(dir, 'out');
  const run = await runCli(['reconstruct', dir, '--out', out, ...fast]);
  assertClean(run, 0);
  const lines = await summary(out);
  assert.deepEqual(lines.map((l) => l.stem).sort(), ['a-2.jpg', 'a.jpg', 'a.png']);
  for (const line of lines) {
    const json = JSON.parse(await readFile(join(out, `${line.stem}.json`), 'utf8'));
    assert.equal(json.input, line.input, `${line.stem}.json belongs to ${line.input}`);
    assert.ok(line.outputs.every((name) => name.startsWith(`${line.stem}.`)), JSON.stringify(line.outputs));
  }
  const objs = await Promise.all(['a.jpg', 'a-2.jpg'].map((stem) => readFile(join(out, `${stem}.obj`), 'utf8')));
  assert.notEqual(objs[0], objs[1]); // the mirrored photo's mesh differs

  const before = await stat(join(out, 'a.png.obj'));
  const resumed = await runCli(['reconstruct', join(dir, 'a.png'), join(dir, 'a-2.jpg'), join(dir, 'a.jpg'), '--out', out, '--resume', ...fast]);
  assertClean(resumed, 0, /3 of 3 reconstructed, 3 already done/);
  assert.equal((await stat(join(out, 'a.png.obj'))).mtimeMs, before.mtimeMs);
});

test('--max-faces 12 on a photo of 12 faces gives 12 meshes; above 64 is a usage error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-crowd-'));
  const names = (await readdir(photosDir)).filter((n) => n.endsWith('.jpg')).sort().slice(0, 12);
  const tile = 256;
  const tiles = await Promise.all(names.map(async (name, i) => ({
    input: await sharp(join(photosDir, name)).resize(tile, tile, { fit: 'cover' }).toBuffer(), left: (i % 4) * tile, top: Math.floor(i / 4) * tile,
  })));
  await sharp({ create: { width: 4 * tile, height: 3 * tile, channels: 3, background: '#808080' } }).composite(tiles).jpeg().toFile(join(dir, 'crowd.jpg'));
  const out = join(dir, 'out');
  const run = await runCli(['reconstruct', join(dir, 'crowd.jpg'), '--out', out, '--max-faces', '12', '--renderer', 'graphics', '--landmark-steps', '0', '--photometric-steps', '0']);
  assertClean(run, 0, /12 faces/);
  const meshes = (await readdir(out)).filter((n) => /^crowd\.jpg\.face\d+\.obj$/.test(n));
  assert.equal(meshes.length, 12, meshes.join(' '));
  assertClean(await runCli(['reconstruct', join(dir, 'crowd.jpg'), '--out', out, '--max-faces', '65']), 2, /--max-faces/);
});

test('a glob with a reversed class is a usage error, --out "" is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-glob-'));
  assertClean(await runCli(['reconstruct', `${dir}/[z-a]*.jpg`, '--out', join(dir, 'out')]), 2, /bad glob .*\[z-a\]\*\.jpg.*Range out of order/);
  const empty = await runCli(['reconstruct', photo, '--out', ''], { cwd: dir });
  assertClean(empty, 2, /--out is empty/);
  assert.deepEqual(await readdir(dir), []);
});

test('a corrupt or hostile --resume summary means "not done": the inputs are tried again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-summary-'));
  const out = join(dir, 'out');
  await mkdir(out);
  const inputs = ['one.jpg', 'two.jpg', 'three.jpg'].map((name) => join(dir, name));
  for (const input of inputs) await writeFile(input, 'text, not a photo'); // each fails with exit 4 when tried
  const escape = relative(out, '/etc/passwd');
  const forged = [
    { input: inputs[0], stem: 'one.jpg', status: 'ok', exitCode: 0, outputs: null, timingsMs: {} },
    { input: inputs[1], stem: 'two.jpg', status: 'ok', exitCode: 0, outputs: [escape], timingsMs: {} },
    { input: inputs[2], stem: 'three.jpg', status: 'ok', exitCode: 0, outputs: [`${escape}`, 'three.jpg.json'], timingsMs: {} },
  ];
  await writeFile(join(out, 'three.jpg.json'), '{}');
  await writeFile(join(out, 'summary.jsonl'), forged.map((line) => JSON.stringify(line)).join('\n') + '\n{"input": "half a li');
  const run = await runCli(['reconstruct', ...inputs, '--out', out, '--resume', ...fast]);
  assertClean(run, 4, /0 of 3 reconstructed, 3 failed/);
  assert.deepEqual((await summary(out)).map((l) => [l.stem, l.status, l.exitCode]).sort(), [['one.jpg', 'failed', 4], ['three.jpg', 'failed', 4], ['two.jpg', 'failed', 4]]);
});

test('--out is the input folder: the next run does not take the overlay PNGs for photos', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-same-'));
  await copyFile(photo, join(dir, 'p.jpg'));
  const first = await runCli(['reconstruct', dir, '--out', dir, ...fast]);
  assertClean(first, 0);
  assert.ok((await readdir(dir)).includes('p.jpg.overlay.png'));
  const again = await runCli(['reconstruct', dir, '--out', dir, '--resume', ...fast]);
  assertClean(again, 0, /1 of 1 reconstructed, 1 already done/);
});

/** `unshare` with a private mount namespace (root, or an unprivileged user namespace): a tiny full tmpfs for one run. */
function mountNamespaceArgs(): string[] | undefined {
  const args = ['--mount', ...(process.getuid?.() === 0 ? [] : ['--map-root-user'])];
  const probe = spawnSync('unshare', [...args, 'sh', '-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d" && umount "$d"'], { stdio: 'ignore' });
  return probe.status === 0 ? args : undefined;
}

test('a full disk before summary.jsonl exists: exit 7 with the file named, not an internal error', async (t) => {
  const namespace = mountNamespaceArgs();
  if (!namespace) { t.skip('needs unshare --mount (root or user namespaces) to make a full file system'); return; }
  const disk = await mkdtemp(join(tmpdir(), 'facegar-full-'));
  // In its own mount namespace: a 64 KiB tmpfs over `disk`, filled up, then the CLI writes there.
  const fill = 'mount -t tmpfs -o size=64k tmpfs "$FULL_DIR" && { head -c 1048576 /dev/zero > "$FULL_DIR/fill" 2>/dev/null; exec "$@"; }';
  const run = await runCli(['reconstruct', photo, '--out', join(disk, 'out'), ...fast], { wrapper: ['unshare', ...namespace, 'sh', '-c', fill, 'sh'], env: { FULL_DIR: disk } });
  assertClean(run, 7, /cannot write \(ENOSPC\)/);
  assert.ok(!/internal error/.test(run.stderr), run.stderr);
});
