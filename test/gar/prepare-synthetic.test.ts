import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, hasStackTrace } from '../helpers/cli.ts';
import { benchmarkSceneSeed } from '../../src/eval/synthetic-benchmark.ts';
import { trainingSceneSeed, syntheticRenderSizePx } from '../../src/gar/synthetic-faces.ts';
import { ALIGNED_CROP_TEMPLATE } from '../../src/detect/align-face-crop.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';

test("training scenes use their own seed stream, never the benchmark's", () => {
  const training = new Set(Array.from({ length: 200 }, (_, i) => trainingSceneSeed(1, i)));
  assert.equal(training.size, 200);
  for (let i = 0; i < 200; i++) assert.ok(!training.has(benchmarkSceneSeed(1, i)), `benchmark scene ${i} is in the training stream`);
  assert.notEqual(trainingSceneSeed(0, 5), trainingSceneSeed(1, 5));
  assert.equal(syntheticRenderSizePx(32), 128);
  assert.equal(syntheticRenderSizePx(64), 256);
});

test('facegar prepare --synthetic 3: aligned crops on the template, dataset.json, resume, deterministic', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-prep-syn-'));
  try {
    const out = join(dir, 'ds');
    const first = await runCli(['prepare', '--synthetic', '3', '--out', out, '--size', '32,64', '--seed', '5']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /3\/3 synthetic:train:5:2/);
    const dataset = JSON.parse(await readFile(join(out, 'dataset.json'), 'utf8'));
    assert.deepEqual(dataset.sizes, [32, 64]);
    assert.equal(dataset.images.length, 3);
    assert.deepEqual(dataset.skipped, []);
    assert.deepEqual(
      dataset.images.map((i: { source: string }) => i.source),
      ['synthetic:train:5:0', 'synthetic:train:5:1', 'synthetic:train:5:2'],
    );
    assert.deepEqual((await readdir(join(out, '32'))).length, 3);
    for (const entry of dataset.images) {
      assert.equal(entry.landmarks68.length, 136);
      assert.equal(entry.anglesDeg.length, 3);
      assert.equal(entry.detectionScore, undefined, 'truth alignment has no detector score');
      // Truth alignment puts the eye centres (landmark means, crop px of the largest size) on the template.
      const eye = (from: number) =>
        [0, 1].map((axis) => Array.from({ length: 6 }, (_, k) => entry.landmarks68[2 * (from + k) + axis]).reduce((a, b) => a + b, 0) / 6 / 64);
      const [left, right] = [eye(36), eye(42)];
      const mouthY = (entry.landmarks68[97] + entry.landmarks68[109]) / 2 / 64;
      assert.ok(Math.abs((left[1] + right[1]) / 2 - ALIGNED_CROP_TEMPLATE[0][1]) < 0.03, `eye height ${left[1]}, ${right[1]}`);
      assert.ok(mouthY - (left[1] + right[1]) / 2 > 0.2, `mouth ${mouthY} below the eyes`);
      const crop = await decodeImageFile(join(out, entry.files['32']));
      assert.equal(crop.width, 32);
      // A picture, not an empty crop: luminance varies across it.
      const luma = Array.from({ length: 32 * 32 }, (_, i) => crop.data[4 * i] + crop.data[4 * i + 1] + crop.data[4 * i + 2]);
      const mean = luma.reduce((a, b) => a + b, 0) / luma.length;
      const std = Math.sqrt(luma.reduce((a, b) => a + (b - mean) ** 2, 0) / luma.length);
      assert.ok(std > 20, `crop is nearly flat (std ${std})`);
    }
    const again = await runCli(['prepare', '--synthetic', '4', '--out', out, '--size', '32,64', '--seed', '5', '-q']);
    assert.equal(again.code, 0, again.stderr);
    const grown = JSON.parse(await readFile(join(out, 'dataset.json'), 'utf8'));
    assert.equal(grown.images.length, 4, 'resume renders only the missing face');
    assert.deepEqual(grown.images.slice(0, 3), dataset.images);

    // A damaged index is refused with the reason, and left as it was: starting over would redo the work silently.
    const damaged = '{"format": 1, "sizes": [32, 64], "images": [';
    await writeFile(join(out, 'dataset.json'), damaged);
    const refused = await runCli(['prepare', '--synthetic', '5', '--out', out, '--size', '32,64', '--seed', '5', '-q']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /dataset\.json is damaged/);
    assert.ok(!hasStackTrace(refused.stderr));
    assert.equal(await readFile(join(out, 'dataset.json'), 'utf8'), damaged);
    await writeFile(join(out, 'dataset.json'), JSON.stringify(grown));

    // Same seed and sizes (the render side follows the largest size), same pixels.
    const other = join(dir, 'ds2');
    const repeat = await runCli(['prepare', '--synthetic', '1', '--out', other, '--size', '32,64', '--seed', '5', '-q']);
    assert.equal(repeat.code, 0, repeat.stderr);
    assert.deepEqual(await readFile(join(other, '32', '000000-synthetic-s5-0.png')), await readFile(join(out, '32', '000000-synthetic-s5-0.png')));

    // --align detect: aligned on the detector's landmarks, as photos are.
    const detected = join(dir, 'ds3');
    const viaDetector = await runCli(['prepare', '--synthetic', '2', '--out', detected, '--size', '32', '--align', 'detect', '-q']);
    assert.equal(viaDetector.code, 0, viaDetector.stderr);
    const detectedSet = JSON.parse(await readFile(join(detected, 'dataset.json'), 'utf8'));
    assert.equal(detectedSet.images.length + detectedSet.skipped.length, 2);
    for (const entry of detectedSet.images) assert.ok(entry.detectionScore > 0.3, `detection score ${entry.detectionScore}`);

    const bad = await runCli(['prepare', '--synthetic', '2', 'photos', '--out', other]);
    assert.equal(bad.code, 2);
    assert.ok(!hasStackTrace(bad.stderr));
    const badAlign = await runCli(['prepare', '--synthetic', '2', '--out', other, '--align', 'guess']);
    assert.equal(badAlign.code, 2);
    assert.match(badAlign.stderr, /--align/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
