import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { benchmarkReportJson, formatBenchmarkMarkdown, renderContactSheet } from '../../src/eval/benchmark-report.ts';
import { renderBenchmarkScenes, type BenchmarkSample, type SyntheticBenchmarkResult } from '../../src/eval/synthetic-benchmark.ts';
import { sharedModel } from '../helpers/model.ts';
import { runCli } from '../helpers/cli.ts';

test('contact sheet: render | overlay pairs; the overlay of a perfect fit changes the face, a failure is tinted', async () => {
  const model = await sharedModel();
  const renders = renderBenchmarkScenes(model, { count: 2, seed: 3, scene: { width: 128, height: 128 } });
  const perfect = (i: number): BenchmarkSample => {
    const t = renders[i].truth;
    return { index: i, sceneSeed: 0, yawDeg: t.anglesDeg[1], ok: true, ms: 1, vertexErrorsMm: Float64Array.from([0.5, 1]), landmarkNme: 0.02,
      fit: { vertices: t.verticesModel, rotation: t.rotation, translationMm: t.translationMm, focalPx: t.camera.focalPx, principalPointPx: t.camera.principalPointPx, landmarks2d: t.landmarks2d, detectedLandmarks2d: t.landmarks2d } };
  };
  const result: SyntheticBenchmarkResult = {
    rows: [{ name: 'graphics', medianMm: 0.75, meanMm: 0.75, p90Mm: 1, landmarkNme: 0.02, successRate: 0.5, msPerImage: 1, byYaw: { '0-20': { medianMm: 0.75, meanMm: 0.75, p90Mm: 1, images: 1 }, '20-40': { medianMm: NaN, meanMm: NaN, p90Mm: NaN, images: 0 }, '40-60': { medianMm: NaN, meanMm: NaN, p90Mm: NaN, images: 0 } } }],
    samples: { graphics: [perfect(0), { index: 1, sceneSeed: 0, yawDeg: 5, ok: false, failure: 'noFace', ms: 1 }] },
    renders,
  };
  const cell = 128, gap = 4;
  const sheet = renderContactSheet(result, model, { cellPx: cell, pairsPerRow: 2 });
  assert.equal(sheet.width, 4 * (cell + gap) + gap);
  assert.equal(sheet.height, cell + 2 * gap);
  const cellPixels = (column: number) => {
    const out: number[] = [];
    for (let y = 0; y < cell; y++) for (let x = 0; x < cell; x++) {
      const p = 4 * ((gap + y) * sheet.width + gap + column * (cell + gap) + x);
      out.push(sheet.data[p], sheet.data[p + 1], sheet.data[p + 2]);
    }
    return out;
  };
  const input0 = cellPixels(0), overlay0 = cellPixels(1), input1 = cellPixels(2), overlay1 = cellPixels(3);
  assert.deepEqual(input0, Array.from(renders[0].image.data).filter((_, i) => i % 4 !== 3), 'the input cell is the render');
  const changed = input0.filter((v, i) => Math.abs(v - overlay0[i]) > 20).length / input0.length;
  assert.ok(changed > 0.05 && changed < 0.9, `overlay changes the face only (${changed})`);
  const meanRedShift = input1.reduce((s, v, i) => s + (i % 3 === 0 ? overlay1[i] - v : 0), 0) / (cell * cell);
  assert.ok(meanRedShift > 20, `failed image tinted red (${meanRedShift})`);
  const markdown = formatBenchmarkMarkdown(result, 'facegar eval synthetic --n 2');
  assert.match(markdown, /\| graphics \| 0\.75 \| 0\.75 \| 1\.00 \| 2\.00 \| 50 % \|/);
  assert.match(markdown, /\| 2 \| 0 \| 5\.0 \| graphics \| failed \(noFace\) \|/);
  const json = benchmarkReportJson(result, 'x') as { images: { ok: boolean; medianMm: number | null }[] };
  assert.deepEqual(json.images.map((i) => [i.ok, i.medianMm]), [[true, 0.75], [false, null]]);
});

test('facegar eval synthetic --report writes the contact sheet, report.md and report.json', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-report-'));
  try {
    const report = join(dir, 'nested', 'report');
    const run = await runCli(['eval', 'synthetic', '--n', '1', '--seed', '4', '--landmark-steps', '10', '--photometric-steps', '0', '--report', report, '--quiet']);
    assert.equal(run.code, 0, run.stderr);
    const png = await sharp(join(report, 'contact-sheet.png')).metadata();
    assert.deepEqual([png.width, png.height], [2 * 260 + 4, 264]);
    assert.match(await readFile(join(report, 'report.md'), 'utf8'), /Command: `facegar eval synthetic --n 1 --seed 4/);
    const json = JSON.parse(await readFile(join(report, 'report.json'), 'utf8'));
    assert.deepEqual(json.rows.map((r: { name: string }) => r.name), ['mean-face', 'graphics']);
    assert.equal(json.images.length, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
