import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { photosDir } from '../helpers/shared-data.ts';

test('reconstruct --layout now writes predictions where facegar eval now looks for them', async () => {
  const root = await mkdtemp(join(tmpdir(), 'facegar-now-'));
  const imageDir = join(root, 'iphone_pictures', 'FaMoS_180424_03335_TA', 'multiview_neutral');
  await mkdir(imageDir, { recursive: true });
  await copyFile(join(photosDir, '000033.jpg'), join(imageDir, 'IMG_0101.jpg'));
  const out = join(root, 'predictions');
  const run = await runCli(['reconstruct', join(root, 'iphone_pictures'), '--out', out, '--layout', 'now', '--landmark-steps', '60', '--photometric-steps', '0']);
  assert.equal(run.code, 0, run.stderr);
  const prefix = join(out, 'FaMoS_180424_03335_TA', 'multiview_neutral', 'IMG_0101');
  const obj = await readFile(`${prefix}.obj`, 'utf8');
  assert.ok(obj.split('\n').filter((line) => line.startsWith('v ')).length > 9000);
  const landmarks = (await readFile(`${prefix}.txt`, 'utf8')).trim().split('\n');
  assert.equal(landmarks.length, 7);
  const bad = await runCli(['reconstruct', imageDir, '--out', out, '--layout', 'florence']);
  assert.equal(bad.code, 2);
});
