// scripts/focal-shape-check.ts: the shape error against the focal error, read from a report.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScript } from '../helpers/scripts.ts';

const script = 'scripts/focal-shape-check.ts';

/** A report of 8 images: the fit's shape error grows with its focal error; with the true camera held it is constant, told the true focal 2.4 mm but for image 7. */
function reportOf(withTrueFocal = true) {
  const images = [];
  for (let index = 0; index < 8; index++) {
    const trueFocalPx = 1000;
    images.push({ method: 'mean-face', index, ok: true, medianMm: 4, focalPx: null, ...(withTrueFocal ? { trueFocalPx } : {}) });
    // Focal error 0, 5, …, 35 %; shape 2.0, 2.2, … 3.4 mm (ratio 0.5 … 0.85).
    images.push({
      method: 'gar-encoder-init',
      index,
      ok: true,
      medianMm: 2 + 0.2 * index,
      focalPx: trueFocalPx * (1 + 0.05 * index),
      ...(withTrueFocal ? { trueFocalPx } : {}),
    });
    images.push({ method: 'true-pose', index, ok: true, medianMm: 3, focalPx: trueFocalPx, ...(withTrueFocal ? { trueFocalPx } : {}) });
    images.push({
      method: 'true-focal',
      index,
      ok: index !== 7,
      medianMm: index !== 7 ? 2.4 : null,
      focalPx: trueFocalPx,
      ...(withTrueFocal ? { trueFocalPx } : {}),
    });
  }
  return { images };
}

test('focal-shape-check: correlation and halves from the per-image records; bad reports exit with a message', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-focal-'));
  try {
    const path = join(dir, 'report.json');
    await writeFile(path, JSON.stringify(reportOf()));
    const run = await runScript(script, [path, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const [row] = JSON.parse(run.stdout);
    assert.equal(row.method, 'gar-encoder-init');
    assert.equal(row.images, 8);
    assert.equal(row.spearmanFocalErrorVsShapeRatio, 1);
    // Smaller half: images 0–3, ratios 0.5, 0.55, 0.6, 0.65 → 0.575; its middle focal error (index 2) 10 %.
    // true-focal failed on image 7, so the larger half has no true-focal mean (it would not cover the same images).
    assert.deepEqual(row.smallerFocalErrors, {
      images: 4,
      medianFocalErrorPct: 10,
      meanRatioToMeanFace: 0.575,
      trueFocalMeanRatio: 0.6,
      truePoseMeanRatio: 0.75,
    });
    assert.deepEqual(row.largerFocalErrors, { images: 4, medianFocalErrorPct: 30, meanRatioToMeanFace: 0.775, truePoseMeanRatio: 0.75 });
    const text = await runScript(script, [path]);
    assert.match(text.stdout, /gar-encoder-init: 8 images; Spearman\(focal error, shape error ÷ mean face's\) = 1/);
    assert.match(text.stdout, /told the true focal length 0\.6×, with the true camera held 0\.75×/);

    // The same rows split over two reports of one set (one run per row) give the same answer.
    const whole = reportOf();
    const first = join(dir, 'first.json'),
      second = join(dir, 'second.json');
    await writeFile(first, JSON.stringify({ images: whole.images.filter((i) => i.method !== 'true-focal') }));
    await writeFile(second, JSON.stringify({ images: whole.images.filter((i) => i.method === 'true-focal' || i.method === 'mean-face') }));
    const split = await runScript(script, [first, second, '--json']);
    assert.equal(split.code, 0, split.stderr);
    assert.deepEqual(JSON.parse(split.stdout), JSON.parse(run.stdout));
    // Reports of different sets (their mean-face rows differ) are refused.
    const other = join(dir, 'other.json');
    await writeFile(other, JSON.stringify({ images: whole.images.map((i) => (i.method === 'mean-face' ? { ...i, medianMm: 5 } : i)) }));
    const mixed = await runScript(script, [path, other]);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /not of one set/);

    await writeFile(path, JSON.stringify(reportOf(false)));
    const old = await runScript(script, [path]);
    assert.equal(old.code, 2);
    assert.match(old.stderr, /no trueFocalPx/);
    await writeFile(path, '{not json');
    const broken = await runScript(script, [path]);
    assert.equal(broken.code, 3);
    assert.match(broken.stderr, /not a readable report\.json/);
    assert.equal((await runScript(script, [])).code, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
