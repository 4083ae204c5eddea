import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, hasStackTrace } from '../helpers/cli.ts';
import { copyExamplePhotos } from '../helpers/example-photos.ts';

test('facegar prepare then train-gar (tiny), refuse to overwrite, resume', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-gar-cli-'));
  try {
    const photos = await copyExamplePhotos(dir, 3);
    const prepared = await runCli(['prepare', photos, '--out', join(dir, 'ds'), '--size', '32']);
    assert.equal(prepared.code, 0, prepared.stderr);
    const dataset = JSON.parse(await readFile(join(dir, 'ds', 'dataset.json'), 'utf8'));
    assert.equal(dataset.images.length + dataset.skipped.length, 3);
    assert.ok(dataset.images.length >= 2);
    assert.equal(dataset.images[0].landmarks68.length, 136);
    const again = await runCli(['prepare', photos, '--out', join(dir, 'ds'), '--size', '32']);
    assert.match(again.stderr, /0 processed now/);

    const run = join(dir, 'run');
    const trained = await runCli(['train-gar', '--data', join(dir, 'ds'), '--out', run, '--steps', '2', '--batch', '2', '--checkpoint-every', '2']);
    assert.equal(trained.code, 0, trained.stderr);
    assert.deepEqual((await readdir(run)).sort(), ['checkpoint-00000002.safetensors', 'checkpoint.json', 'losses.jsonl', 'samples-00000002.png']);
    const refused = await runCli(['train-gar', '--data', join(dir, 'ds'), '--out', run, '--steps', '3']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--resume/);
    assert.ok(!hasStackTrace(refused.stderr));
    const resumed = await runCli(['train-gar', '--data', join(dir, 'ds'), '--out', run, '--steps', '3', '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(JSON.parse(await readFile(join(run, 'checkpoint.json'), 'utf8')).step, 3);
    assert.equal((await readFile(join(run, 'losses.jsonl'), 'utf8')).trim().split('\n').length, 3);

    // A new run fine-tunes that GAR: the step starts again and the checkpoint says where from.
    const tuned = join(dir, 'tuned');
    const fromRun = await runCli([
      'train-gar',
      '--data',
      join(dir, 'ds'),
      '--out',
      tuned,
      '--init-from',
      run,
      '--freeze-generator',
      '1',
      '--steps',
      '2',
      '--batch',
      '2',
    ]);
    assert.equal(fromRun.code, 0, fromRun.stderr);
    const tunedManifest = JSON.parse(await readFile(join(tuned, 'checkpoint.json'), 'utf8'));
    assert.equal(tunedManifest.step, 2);
    const tunedLosses = (await readFile(join(tuned, 'losses.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      tunedLosses.map((entry) => 'lossG' in entry),
      [false, true],
      'step 1 trains the discriminator alone',
    );
    assert.match(tunedManifest.notes.initFrom, /step 3; discriminator fresh/);
    const missing = await runCli(['train-gar', '--data', join(dir, 'ds'), '--out', join(dir, 'none'), '--init-from', join(dir, 'ds')]);
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /no GAR checkpoint/);
    assert.ok(!hasStackTrace(missing.stderr));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
