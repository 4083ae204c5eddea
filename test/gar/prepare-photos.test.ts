import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, hasStackTrace } from '../helpers/cli.ts';
import { copyExamplePhotos } from '../helpers/example-photos.ts';

test('facegar prepare --pad, --max-outside, --include, --exclude', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-prepare-photos-'));
  try {
    const photos = await copyExamplePhotos(dir, 3);
    const names = (await readdir(photos)).sort();
    await writeFile(join(dir, 'held-out.txt'), `# held out\n${names[0]}\n\n`);

    const excluded = await runCli(['prepare', photos, '--out', join(dir, 'train'), '--size', '32', '--pad', '0.3', '--exclude', join(dir, 'held-out.txt')]);
    assert.equal(excluded.code, 0, excluded.stderr);
    const train = JSON.parse(await readFile(join(dir, 'train', 'dataset.json'), 'utf8'));
    const sources = [...train.images, ...train.skipped].map((i: { source: string }) => i.source).sort();
    assert.deepEqual(sources, names.slice(1));
    for (const image of train.images) assert.ok(image.outsideFraction >= 0 && image.outsideFraction <= 1, String(image.outsideFraction));

    const included = await runCli(['prepare', photos, '--out', join(dir, 'held'), '--size', '32', '--include', join(dir, 'held-out.txt')]);
    assert.equal(included.code, 0, included.stderr);
    const held = JSON.parse(await readFile(join(dir, 'held', 'dataset.json'), 'utf8'));
    assert.deepEqual(
      [...held.images, ...held.skipped].map((i: { source: string }) => i.source),
      [names[0]],
    );

    // Every canonical crop of a photo cut to its face box leaves some of the crop outside it:
    // with --max-outside 0 every found face is skipped, with the reason.
    const strict = await runCli([
      'prepare',
      photos,
      '--out',
      join(dir, 'strict'),
      '--size',
      '32',
      '--pad',
      '0.3',
      '--max-outside',
      '0',
      '--include',
      join(dir, 'held-out.txt'),
    ]);
    assert.equal(strict.code, 0, strict.stderr);
    const strictSet = JSON.parse(await readFile(join(dir, 'strict', 'dataset.json'), 'utf8'));
    if (strictSet.images.length === 0) assert.match(strictSet.skipped[0].reason, /outside the photo|no face/);
    else assert.equal(strictSet.images[0].outsideFraction, 0);

    for (const bad of [
      ['--pad', '-1'],
      ['--max-outside', '2'],
      ['--include', join(dir, 'missing.txt')],
    ]) {
      const run = await runCli(['prepare', photos, '--out', join(dir, 'bad'), '--size', '32', ...bad]);
      assert.equal(run.code, bad[0] === '--include' ? 3 : 2, `${bad.join(' ')}: ${run.stderr}`);
      assert.ok(!hasStackTrace(run.stderr));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
