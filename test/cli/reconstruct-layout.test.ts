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
  const run = await runCli([
    'reconstruct',
    join(root, 'iphone_pictures'),
    '--out',
    out,
    '--layout',
    'now',
    '--landmark-steps',
    '60',
    '--photometric-steps',
    '0',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const prefix = join(out, 'FaMoS_180424_03335_TA', 'multiview_neutral', 'IMG_0101');
  const obj = await readFile(`${prefix}.obj`, 'utf8');
  assert.ok(obj.split('\n').filter((line) => line.startsWith('v ')).length > 9000);
  const landmarks = (await readFile(`${prefix}.txt`, 'utf8')).trim().split('\n');
  assert.equal(landmarks.length, 7);
  const bad = await runCli(['reconstruct', imageDir, '--out', out, '--layout', 'florence']);
  assert.equal(bad.code, 2);
});

test("reconstruct --layout micc averages each video folder's frames into the prediction facegar eval micc reads", async () => {
  const root = await mkdtemp(join(tmpdir(), 'facegar-micc-'));
  const video = join(root, 'frames', 'subject_01', 'Indoor-Cooperative');
  await mkdir(video, { recursive: true });
  await copyFile(join(photosDir, '000033.jpg'), join(video, 'frame0001.jpg'));
  await copyFile(join(photosDir, '000114.jpg'), join(video, 'frame0002.jpg'));
  const out = join(root, 'predictions');
  const run = await runCli(['reconstruct', join(root, 'frames'), '--out', out, '--layout', 'micc', '--landmark-steps', '40', '--photometric-steps', '0']);
  assert.equal(run.code, 0, run.stderr);
  const frame = async (name: string) =>
    new Float32Array((await readFile(join(out, 'micc-frames', 'subject_01', 'Indoor-Cooperative', `${name}.f32`))).buffer.slice(0));
  const [a, b] = [await frame('frame0001'), await frame('frame0002')];
  const obj = await readFile(join(out, 'subject_01', 'Indoor-Cooperative.obj'), 'utf8');
  const firstVertex = obj
    .split('\n')
    .find((line) => line.startsWith('v '))!
    .split(/\s+/)
    .slice(1, 4)
    .map(Number);
  for (let axis = 0; axis < 3; axis++) assert.ok(Math.abs(firstVertex[axis] - (a[axis] + b[axis]) / 2) < 0.01, `axis ${axis}`);
  assert.equal((await readFile(join(out, 'subject_01', 'Indoor-Cooperative.txt'), 'utf8')).trim().split('\n').length, 7);

  const wrong = join(root, 'other', 'subject_02', 'Holiday');
  await mkdir(wrong, { recursive: true });
  await copyFile(join(photosDir, '000033.jpg'), join(wrong, 'frame0001.jpg'));
  const bad = await runCli(['reconstruct', wrong, '--out', out, '--layout', 'micc', '--landmark-steps', '40', '--photometric-steps', '0']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--layout micc expects frames in/);
});
