import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, hasStackTrace } from '../helpers/cli.ts';
import { photosDir } from '../helpers/shared-data.ts';

// The graphics path's landmark stage only: the identity is decided there.
const FAST = ['--renderer', 'graphics', '--landmark-steps', '40', '--photometric-steps', '0', '--workers', '1'];

test('reconstruct --same-person holds one identity over all photos, writes person.json/.obj, resumes, and skips a photo without a face', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-person-'));
  try {
    const photos = join(dir, 'photos');
    await mkdir(photos);
    for (const name of ['000002.jpg', '000037.jpg']) await copyFile(join(photosDir, name), join(photos, name));
    // Not a photo of anyone: the batch reports it and goes on without it.
    await writeFile(join(photos, 'zz-not-a-photo.jpg'), 'not a jpeg');
    const out = join(dir, 'out');
    const run = await runCli(['reconstruct', photos, '--same-person', '--out', out, ...FAST]);
    assert.equal(run.code, 9, run.stderr); // some inputs failed (exit 9), as without --same-person
    assert.ok(!hasStackTrace(run.stderr));
    assert.match(run.stderr, /person\.json: one identity from 2 of 3 photos/);
    const person = JSON.parse(await readFile(join(out, 'person.json'), 'utf8')) as {
      format: string;
      photosUsed: number;
      identity: number[];
      skipped: { input: string }[];
    };
    assert.equal(person.format, 'facegar-person');
    assert.equal(person.photosUsed, 2);
    assert.equal(person.identity.length, 100);
    assert.ok(person.skipped[0].input.endsWith('zz-not-a-photo.jpg'));
    assert.ok(Math.hypot(...person.identity) > 0.1, 'the identity is fitted, not the mean face');
    assert.match(await readFile(join(out, 'person.obj'), 'utf8'), /^v /m);
    const identities = await Promise.all(
      ['000002.jpg', '000037.jpg'].map(async (name) => JSON.parse(await readFile(join(out, `${name}.json`), 'utf8')).faces[0].identity as number[]),
    );
    for (const identity of identities)
      identity.forEach((v, k) => assert.ok(Math.abs(v - person.identity[k]) < 1e-4, `mode ${k}: ${v} vs ${person.identity[k]}`));

    // Each photo alone gets its own identity: the held one differs from both.
    const alone = join(dir, 'alone');
    assert.equal((await runCli(['reconstruct', join(photos, '000002.jpg'), '--out', alone, ...FAST])).code, 0);
    const own = JSON.parse(await readFile(join(alone, '000002.jpg.json'), 'utf8')).faces[0].identity as number[];
    assert.ok(Math.hypot(...own.map((v, k) => v - person.identity[k])) > 0.05);

    const resumed = await runCli(['reconstruct', photos, '--same-person', '--resume', '--out', out, ...FAST]);
    assert.match(resumed.stderr, /identity from 2 of 3 photos \(resumed\)/);
    const refused = await runCli(['reconstruct', photos, '--same-person', '--shard', '0/2', '--out', join(dir, 'shard'), ...FAST]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /drop --shard/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
