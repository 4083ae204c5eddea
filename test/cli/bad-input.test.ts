import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runCli, hasStackTrace } from '../helpers/cli.ts';
import { photosDir } from '../helpers/shared-data.ts';

const fast = ['--landmark-steps', '60', '--photometric-steps', '0'];

async function fixtures() {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-bad-'));
  const photo = join(photosDir, '000114.jpg');
  const jpeg = await readFile(photo);
  await writeFile(join(dir, 'notes.jpg'), 'this is text, not a picture');
  await writeFile(join(dir, 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  await writeFile(join(dir, 'empty.png'), new Uint8Array());
  await sharp(photo).png().toFile(join(dir, 'png-named.jpg'));
  await sharp(photo).ensureAlpha().png().toFile(join(dir, 'rgba.png'));
  await sharp(photo).grayscale().png({}).toFile(join(dir, 'gray.png'));
  await sharp(photo).toColourspace('rgb16').png().toFile(join(dir, 'deep16.png'));
  await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 120, g: 130, b: 140 } } })
    .jpeg()
    .toFile(join(dir, 'blank.jpg'));
  // EXIF orientation 6: stored rotated, shown upright by viewers.
  await sharp(photo).rotate(-90).withMetadata({ orientation: 6 }).jpeg().toFile(join(dir, 'exif6.jpg'));
  await copyFile(photo, join(dir, 'plain.jpg'));
  return dir;
}

test('a batch of good and bad inputs: each bad one gets its own one-line reason and exit code, the good ones finish', async () => {
  const dir = await fixtures();
  const out = await mkdtemp(join(tmpdir(), 'facegar-bad-out-'));
  const run = await runCli(['reconstruct', dir, join(dir, 'missing.jpg'), '--out', out, ...fast]);
  assert.equal(run.code, 9, run.stderr); // some failed, some succeeded
  assert.ok(!hasStackTrace(run.stderr), run.stderr);
  const lines = (await readFile(join(out, 'summary.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const byName = Object.fromEntries(lines.map((line) => [line.input.split('/').pop(), line]));
  const expected: Record<string, [string, number]> = {
    'notes.jpg': ['failed', 4],
    'truncated.jpg': ['failed', 4],
    'empty.png': ['failed', 4],
    'blank.jpg': ['failed', 5],
    'missing.jpg': ['failed', 3],
    'png-named.jpg': ['ok', 0],
    'rgba.png': ['ok', 0],
    'gray.png': ['ok', 0],
    'deep16.png': ['ok', 0],
    'exif6.jpg': ['ok', 0],
    'plain.jpg': ['ok', 0],
  };
  for (const [name, [status, exitCode]] of Object.entries(expected)) {
    assert.equal(byName[name]?.status, status, `${name}: ${JSON.stringify(byName[name])}`);
    assert.equal(byName[name].exitCode, exitCode, name);
    if (status === 'failed') {
      assert.ok(byName[name].reason.includes(name), `reason names the input: ${byName[name].reason}`);
      assert.ok(!byName[name].reason.includes('\n'));
      assert.match(run.stderr, new RegExp(`✗ .*${name.replace('.', '\\.')}`));
    }
  }
  // The EXIF-rotated copy is reconstructed upright: same face, landmarks in the upright frame.
  const plain = JSON.parse(await readFile(join(out, 'plain.jpg.json'), 'utf8'));
  const rotated = JSON.parse(await readFile(join(out, 'exif6.jpg.json'), 'utf8'));
  assert.deepEqual(rotated.imageSize, plain.imageSize);
  assert.ok(Math.abs(rotated.landmarks2d[30][0] - plain.landmarks2d[30][0]) < 0.05 * plain.interOcularPx);
  const gray = JSON.parse(await readFile(join(out, 'gray.png.json'), 'utf8'));
  assert.ok(Math.abs(gray.landmarks2d[30][1] - plain.landmarks2d[30][1]) < 0.1 * plain.interOcularPx);
  assert.match(run.stderr, /facegar: 6 of 11 reconstructed, 5 failed/);
});

test("single-input failures exit with that failure's code", async () => {
  const dir = await fixtures();
  const out = await mkdtemp(join(tmpdir(), 'facegar-bad-out-'));
  const cases: [string[], number, RegExp][] = [
    [[join(dir, 'missing.jpg')], 3, /missing\.jpg: no such file/],
    [[join(dir, 'notes.jpg')], 4, /notes\.jpg: not an image/],
    [[join(dir, 'blank.jpg')], 5, /blank\.jpg: no face found/],
  ];
  for (const [inputs, code, message] of cases) {
    const run = await runCli(['reconstruct', ...inputs, '--out', out, ...fast]);
    assert.equal(run.code, code, run.stderr);
    assert.match(run.stderr, message);
    assert.ok(!hasStackTrace(run.stderr));
  }
});

test('unwritable output directory and missing model directory: exit 7 and 6, one line', async () => {
  const dir = await fixtures();
  const blocker = join(dir, 'plain.jpg'); // a file where a directory should be
  const unwritable = await runCli(['reconstruct', join(dir, 'plain.jpg'), '--out', join(blocker, 'out'), ...fast]);
  assert.equal(unwritable.code, 7, unwritable.stderr);
  assert.match(unwritable.stderr, /cannot write/);
  assert.equal(unwritable.stderr.trim().split('\n').length, 1, unwritable.stderr);

  const noModel = await runCli(['reconstruct', join(dir, 'plain.jpg'), '--out', dir, '--model', join(dir, 'no-model-here')]);
  assert.equal(noModel.code, 6, noModel.stderr);
  assert.match(noModel.stderr, /model directory not found/);
  assert.ok(!hasStackTrace(noModel.stderr));
  assert.deepEqual(
    (await readdir(dir)).filter((n) => n.endsWith('.tmp')),
    [],
  );
});

test('a 12000×9000 photo is downscaled for the work, and its landmarks come back in original pixels', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-huge-'));
  const photo = join(photosDir, '000114.jpg');
  const { width, height } = await sharp(photo).metadata();
  await sharp(photo).resize(12000, 9000, { fit: 'fill' }).jpeg({ quality: 80 }).toFile(join(dir, 'huge.jpg'));
  await copyFile(photo, join(dir, 'small.jpg'));
  const out = await mkdtemp(join(tmpdir(), 'facegar-huge-out-'));
  const run = await runCli(['reconstruct', join(dir, 'huge.jpg'), join(dir, 'small.jpg'), '--out', out, ...fast]);
  assert.equal(run.code, 0, run.stderr);
  const huge = JSON.parse(await readFile(join(out, 'huge.jpg.json'), 'utf8'));
  const small = JSON.parse(await readFile(join(out, 'small.jpg.json'), 'utf8'));
  assert.deepEqual(huge.imageSize, { width: 12000, height: 9000 });
  const scaleX = 12000 / (width as number),
    scaleY = 9000 / (height as number);
  for (const k of [30, 36, 45, 48, 54]) {
    const dx = huge.detectedLandmarks2d[k][0] / scaleX - small.detectedLandmarks2d[k][0];
    const dy = huge.detectedLandmarks2d[k][1] / scaleY - small.detectedLandmarks2d[k][1];
    assert.ok(Math.hypot(dx, dy) < 0.05 * small.interOcularPx, `landmark ${k} off by ${Math.hypot(dx, dy)} px`);
  }
});
