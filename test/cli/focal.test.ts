import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runCli, hasStackTrace } from '../helpers/cli.ts';
import { photosDir } from '../helpers/shared-data.ts';

// The graphics path's landmark stage only: the focal length is decided there.
const FAST = ['--renderer', 'graphics', '--landmark-steps', '40', '--photometric-steps', '0', '--workers', '1', '-q'];

test('reconstruct holds the focal length from EXIF, from --focal N, or estimates it with --focal fit', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-focal-'));
  try {
    const photo = join(dir, 'exif100.jpg');
    // 100 mm on a full-frame diagonal: 100 · hypot(423, 594) / hypot(36, 24) = 1685.4 px (the estimate's prior is 1.5 × 594 = 891) for this 423×594 photo.
    await sharp(join(photosDir, '000002.jpg'))
      .withExif({ IFD2: { FocalLengthIn35mmFilm: '100' } })
      .jpeg()
      .toFile(photo);
    const pose = async (out: string, extra: string[]) => {
      const run = await runCli(['reconstruct', photo, '--out', join(dir, out), ...FAST, ...extra]);
      assert.equal(run.code, 0, run.stderr);
      return JSON.parse(await readFile(join(dir, out, 'exif100.jpg.json'), 'utf8')).pose as { focalPx: number; focalSource: string };
    };
    const exif = await pose('exif', []);
    assert.equal(exif.focalSource, 'known');
    assert.ok(Math.abs(exif.focalPx / 1685.4 - 1) < 0.02, String(exif.focalPx));
    const given = await pose('given', ['--focal', '2000']);
    assert.equal(given.focalSource, 'known');
    assert.ok(Math.abs(given.focalPx / 2000 - 1) < 0.02, String(given.focalPx));
    const fitted = await pose('fit', ['--focal', 'fit']);
    assert.equal(fitted.focalSource, 'fit');
    assert.ok(Math.abs(fitted.focalPx / 1685.4 - 1) > 0.05, `the estimate ${fitted.focalPx} should not sit on the EXIF value by chance`);
    const bad = await runCli(['reconstruct', photo, '--out', join(dir, 'bad'), ...FAST, '--focal', 'wide']);
    assert.equal(bad.code, 2);
    assert.ok(!hasStackTrace(bad.stderr));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
