import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { expandInputs } from '../../src/cli/expand-inputs.ts';
import { chooseShard, parseShardSpec, selectShard, shardOfPath } from '../../src/cli/shard.ts';
import { UsageError } from '../../src/common/errors.ts';
import { spawn, spawnSync } from 'node:child_process';
import { runCli } from '../helpers/cli.ts';
import { modelDir, photosDir, repositoryRoot, testCacheDir } from '../helpers/shared-data.ts';

test('the N shards partition the inputs exactly, and agree wherever the folder is mounted', async () => {
  const root = await mkdtemp(join(tmpdir(), 'facegar-shard-'));
  const data = join(root, 'mount-a', 'faces');
  for (let i = 0; i < 300; i++) {
    const dir = join(data, `set${i % 7}`, i % 2 ? 'left' : 'right');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `img${i}.${i % 3 ? 'jpg' : 'png'}`), '');
  }
  await cp(join(root, 'mount-a'), join(root, 'elsewhere', 'b'), { recursive: true });
  const inputs = await expandInputs([data]);
  const moved = await expandInputs([join(root, 'elsewhere', 'b', 'faces')]);
  const globbed = await expandInputs([join(data, '**', '*.jpg'), join(data, '**', '*.png')]);
  assert.equal(inputs.length, 300);
  for (const count of [1, 2, 3, 7, 16]) {
    const shards = Array.from({ length: count }, (_, index) => selectShard(inputs, { index, count, source: 'test' }));
    const taken = shards
      .flat()
      .map((input) => input.path)
      .sort();
    assert.deepEqual(taken, inputs.map((input) => input.path).sort(), `N=${count}: every input in exactly one shard`);
    if (count <= 7) for (const shard of shards) assert.ok(shard.length > 0, `N=${count}: no shard empty`);
    // Another machine that mounts the data elsewhere, or finds the same files through a glob, takes the same share.
    for (const [index, shard] of shards.entries()) {
      assert.deepEqual(
        selectShard(moved, { index, count, source: 'test' }).map((i) => i.relativePath),
        shard.map((i) => i.relativePath),
      );
      assert.deepEqual(
        selectShard(globbed, { index, count, source: 'test' })
          .map((i) => i.relativePath)
          .sort(),
        shard.map((i) => i.relativePath).sort(),
      );
    }
  }
  // The documented rule: first 32 bits of SHA-256 of the relative path, modulo N.
  assert.equal(
    shardOfPath('set0/right/img0.png', 1000),
    (await import('node:crypto')).createHash('sha256').update('set0/right/img0.png').digest().readUInt32BE(0) % 1000,
  );
  await rm(root, { recursive: true, force: true });
});

test('the shard comes from --shard, else JOB_COMPLETION_INDEX with --shard-count, else a Slurm array', () => {
  assert.deepEqual(parseShardSpec('3/8'), { index: 3, count: 8, source: '--shard' });
  for (const bad of ['8/8', '1/0', '-1/2', 'a/b', '1', '1/2/3']) assert.throws(() => parseShardSpec(bad), UsageError, bad);
  const slurm = { SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_STEP: '2', SLURM_ARRAY_TASK_COUNT: '5' };
  assert.equal(chooseShard({ shard: '1/2' }, { ...slurm, JOB_COMPLETION_INDEX: '4' })?.index, 1, '--shard wins');
  assert.deepEqual(chooseShard({ shardCount: '6' }, { JOB_COMPLETION_INDEX: '4' }), { index: 4, count: 6, source: 'JOB_COMPLETION_INDEX with --shard-count' });
  assert.deepEqual(chooseShard({}, slurm), { index: 3, count: 5, source: 'SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT' }, '--array=1-9:2: task 7 is the 4th');
  assert.deepEqual(chooseShard({}, { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '3' })?.index, 0);
  assert.equal(chooseShard({}, {}), undefined, 'no shard: the whole batch');
  assert.equal(chooseShard({}, { JOB_COMPLETION_INDEX: '2' }), undefined, 'an Indexed Job shards only with --shard-count');
  assert.throws(() => chooseShard({ shardCount: '4' }, {}), /--shard-count needs JOB_COMPLETION_INDEX/);
  assert.throws(() => chooseShard({ shardCount: '4' }, { JOB_COMPLETION_INDEX: '4' }), UsageError);
  assert.throws(() => chooseShard({ shard: '0/2', shardCount: '2' }, {}), /drop --shard-count/);
  assert.throws(() => chooseShard({}, { SLURM_ARRAY_TASK_ID: '3' }), /SLURM_ARRAY_TASK_COUNT/);
  assert.throws(() => chooseShard({}, { ...slurm, SLURM_ARRAY_TASK_ID: '4' }), /MIN \+ k·STEP/);
});

const fast = ['--renderer', 'graphics', '--landmark-steps', '20', '--photometric-steps', '0'];

/** Run docs/cluster/facegar-array.sbatch as Slurm would run array task `index` of `count`. */
function runArrayTask(index: number, count: number, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [join(repositoryRoot, 'docs/cluster/facegar-array.sbatch')], {
      env: {
        ...process.env,
        FACEGAR_MODEL_DIR: modelDir,
        FACEGAR_CACHE_DIR: testCacheDir,
        SLURM_ARRAY_TASK_ID: String(index),
        SLURM_ARRAY_TASK_COUNT: String(count),
        FACEGAR: `${process.execPath} ${join(repositoryRoot, 'bin/facegar.mjs')}`,
        ...env,
      },
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
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the Slurm array script: two tasks side by side in one folder each do their share; a shard resumes its own; merge-summary joins them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-shard-in-'));
  const photo = await sharp(join(photosDir, '000037.jpg')).resize({ width: 320 }).jpeg().toBuffer();
  for (let i = 0; i < 6; i++) await writeFile(join(dir, `face${i}.jpg`), photo);
  await writeFile(join(dir, 'broken.jpg'), 'not a picture');
  const out = await mkdtemp(join(tmpdir(), 'facegar-shard-out-'));
  const env = { INPUTS: dir, OUT: out, EXTRA_ARGS: ['--json', ...fast].join(' ') };
  const runs = await Promise.all([0, 1].map((index) => runArrayTask(index, 2, env)));
  const reports = runs.map((run) => {
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout);
  });
  assert.deepEqual(
    reports.map((r) => r.shard),
    [
      { index: 0, count: 2 },
      { index: 1, count: 2 },
    ],
  );
  const done = reports.flatMap((r) => r.results.map((line: { input: string }) => line.input)).sort();
  assert.deepEqual(done, (await readdir(dir)).map((name) => join(dir, name)).sort(), 'together the shards did every input once');
  const names = await readdir(out);
  assert.ok(names.includes('summary.shard-0-of-2.jsonl') && names.includes('summary.shard-1-of-2.jsonl') && !names.includes('summary.jsonl'));

  // Shard 1 again as an Indexed Job's pod would run it, with --resume: nothing left to do but the broken input.
  const resumed = await runCli(['reconstruct', dir, '--out', out, '--shard-count', '2', '--resume', '--json', ...fast], { env: { JOB_COMPLETION_INDEX: '1' } });
  const again = JSON.parse(resumed.stdout);
  assert.deepEqual(again.shard, { index: 1, count: 2 });
  assert.equal(again.skipped, reports[1].ok, 'the done inputs of shard 1 are skipped');
  assert.equal(again.inputs, reports[1].inputs);

  const merged = await runCli(['merge-summary', out, '--json']);
  assert.equal(merged.code, 9, merged.stderr); // one input is broken
  assert.deepEqual({ ...JSON.parse(merged.stdout), outDir: undefined }, { outDir: undefined, parts: 2, inputs: 7, ok: 6, failed: 1, exitCode: 9 });
  const lines = (await readFile(join(out, 'summary.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    lines.map((line) => line.input),
    [...done].sort(),
  );
  assert.equal(lines.find((line) => line.input.endsWith('broken.jpg')).exitCode, 4);
  await Promise.all([dir, out].map((path) => rm(path, { recursive: true, force: true })));
});

test('the Kubernetes Indexed Job manifest runs as many shards as --shard-count says, and lets exit 9 count as done', async () => {
  const manifest = await readFile(join(repositoryRoot, 'docs/cluster/facegar-indexed-job.yaml'), 'utf8');
  assert.match(manifest, /^\s+completionMode: Indexed/m);
  const completions = Number(/^\s+completions: (\d+)/m.exec(manifest)?.[1]);
  assert.equal(Number(/--shard-count (\d+)/.exec(manifest)?.[1]), completions);
  assert.match(manifest, /restartPolicy: Never/);
  const shell = /status=\$\?;.*$/m.exec(manifest)![0];
  for (const [code, expected] of [
    [0, 0],
    [9, 0],
    [5, 5],
    [1, 1],
  ]) {
    const run = spawnSync('sh', ['-c', `(exit ${code}); ${shell}`]);
    assert.equal(run.status, expected, `exit ${code}`);
  }
});
