import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createRgbaImage } from '../../src/common/image.ts';
import { drawText, errorRampRgb, renderErrorHistogram } from '../../src/eval/report-drawing.ts';
import { benchmarkReportJson, formatBenchmarkMarkdown, renderContactSheet } from '../../src/eval/benchmark-report.ts';
import { renderBenchmarkScenes, studioBenchmarkFace, type BenchmarkSample, type SyntheticBenchmarkResult } from '../../src/eval/synthetic-benchmark.ts';
import { summarizeRows } from '../../src/eval/benchmark-rows.ts';
import { sharedModel } from '../helpers/model.ts';
import { runCli } from '../helpers/cli.ts';

test('contact sheet: render | overlay pairs; the overlay of a perfect fit changes the face, a failure is tinted', async () => {
  const model = await sharedModel();
  const renders = renderBenchmarkScenes(model, { count: 2, seed: 3, scene: { width: 128, height: 128 } });
  const perfect = (i: number): BenchmarkSample => {
    const t = renders[i].truth;
    return {
      index: i,
      sceneSeed: 0,
      yawDeg: t.anglesDeg[1],
      ok: true,
      ms: 1,
      vertexErrorsMm: Float64Array.from([0.5, 1]),
      faceErrorsMm: Float64Array.from([0.5, 1]),
      landmarkNme: 0.02,
      fit: {
        vertices: t.verticesModel,
        rotation: t.rotation,
        translationMm: t.translationMm,
        focalPx: t.camera.focalPx,
        principalPointPx: t.camera.principalPointPx,
        landmarks2d: t.landmarks2d,
        detectedLandmarks2d: t.landmarks2d,
      },
    };
  };
  const samples = { graphics: [perfect(0), { index: 1, sceneSeed: 0, yawDeg: 5, ok: false, failure: 'noFace', ms: 1 }] };
  const faces = renders.map((render, i) => studioBenchmarkFace(render, i));
  const result: SyntheticBenchmarkResult = {
    rows: summarizeRows(
      samples,
      faces.map((f) => f.truth),
      model,
    ),
    samples,
    faces,
    renders,
  };
  const cell = 128,
    gap = 4;
  const sheet = renderContactSheet(result, model, { cellPx: cell, imagesPerRow: 2 });
  assert.equal(sheet.width, 6 * (cell + gap) + gap);
  assert.equal(sheet.height, cell + 2 * gap);
  const cellPixels = (column: number) => {
    const out: number[] = [];
    for (let y = 0; y < cell; y++)
      for (let x = 0; x < cell; x++) {
        const p = 4 * ((gap + y) * sheet.width + gap + column * (cell + gap) + x);
        out.push(sheet.data[p], sheet.data[p + 1], sheet.data[p + 2]);
      }
    return out;
  };
  const input0 = cellPixels(0),
    overlay0 = cellPixels(1),
    heat0 = cellPixels(2),
    input1 = cellPixels(3),
    overlay1 = cellPixels(4),
    heat1 = cellPixels(5);
  assert.deepEqual(
    input0,
    Array.from(renders[0].image.data).filter((_, i) => i % 4 !== 3),
    'the input cell is the render',
  );
  const changed = input0.filter((v, i) => Math.abs(v - overlay0[i]) > 20).length / input0.length;
  assert.ok(changed > 0.05 && changed < 0.9, `overlay changes the face only (${changed})`);
  const meanRedShift = input1.reduce((s, v, i) => s + (i % 3 === 0 ? overlay1[i] - v : 0), 0) / (cell * cell);
  assert.ok(meanRedShift > 20, `failed image tinted red (${meanRedShift})`);
  assert.deepEqual(heat1, overlay1, 'a failed image has no heat map either');
  // The heat map of a perfect fit whose first vertex errs 0.5 mm and second 1 mm (others grey):
  // the mesh pixels are coloured (blue ramp end or grey), the legend's bar spans the ramp.
  const saturated = (rgb: number[], i: number) => Math.max(rgb[i], rgb[i + 1], rgb[i + 2]) - Math.min(rgb[i], rgb[i + 1], rgb[i + 2]);
  let legendColours = 0;
  for (let y = 0; y < cell; y += 4) {
    const i = 3 * (y * cell + cell - 6);
    if (saturated(heat0, i) > 80) legendColours++;
  }
  assert.ok(legendColours > (0.6 * cell) / 4, `legend colour bar (${legendColours})`);
  const changedHeat = input0.filter((v, i) => Math.abs(v - heat0[i]) > 20).length / input0.length;
  assert.ok(changedHeat > 0.2, `heat map differs from the input (${changedHeat})`);
  const markdown = formatBenchmarkMarkdown(result, 'facegar eval synthetic --n 2');
  // One fitted image with errors 0.5 and 1 mm: median 0.75 mm, NME 2 %, half the images fitted; no mean-face row, so no ratio.
  assert.match(markdown, /\| graphics \| 0\.75 \| 0\.75 \| — \| — \| — \| — \| 2\.00 \| 50 % \|/);
  assert.match(markdown, /\| 2 \| 0 \| 5\.0 \| graphics \| failed \(noFace\) \|/);
  const json = benchmarkReportJson(result, 'x') as { images: { ok: boolean; medianMm: number | null; focalPx: number | null; trueFocalPx: number | null }[] };
  assert.deepEqual(
    json.images.map((i) => [i.ok, i.medianMm]),
    [
      [true, 0.75],
      [false, null],
    ],
  );
  // Each image carries its true focal length beside the fitted one (scripts/focal-shape-check.ts reads both; these samples have no fitted one).
  assert.deepEqual(
    json.images.map((i) => [i.focalPx, i.trueFocalPx]),
    [
      [null, faces[0].truth.focalPx],
      [null, faces[1].truth.focalPx],
    ],
  );
  assert.notEqual(faces[0].truth.focalPx, faces[1].truth.focalPx);
  const scenes = (json as unknown as { scenes: { index: number; anglesDeg: number[]; identity: number[]; post: { jpegQuality: number } }[] }).scenes;
  assert.equal(scenes.length, 2);
  assert.deepEqual(JSON.parse(JSON.stringify(scenes)), scenes, 'scene records are plain JSON');
  assert.ok(Math.abs(scenes[0].anglesDeg[1] - renders[0].truth.anglesDeg[1]) < 1e-3 && scenes[0].identity.length === model.identityCount);
  assert.ok(scenes[1].post.jpegQuality >= 60 && scenes[1].post.jpegQuality <= 95);
});

test('heat map colours follow the error; histogram bars follow the data; digit font draws', () => {
  assert.deepEqual(errorRampRgb(0), [30, 40, 160]);
  assert.deepEqual(errorRampRgb(1), [220, 30, 30]);
  assert.deepEqual(errorRampRgb(2), errorRampRgb(1));
  const image = createRgbaImage(20, 10);
  drawText(image, '1', 0, 0, [255, 0, 0], 1);
  const lit = (x: number, y: number) => image.data[4 * (y * 20 + x)] === 255;
  assert.deepEqual(
    [0, 1, 2].map((x) => lit(x, 4)),
    [true, true, true],
    "the 1's foot",
  );
  assert.deepEqual(
    [0, 1, 2].map((x) => lit(x, 2)),
    [false, true, false],
    "the 1's stem",
  );
  // All of series A in bin 0 (0.1 mm), all of B in the last (20 mm is clamped into it).
  const histogram = renderErrorHistogram(
    [
      { name: 'a', errorsMm: [0.1, 0.1], rgb: [10, 200, 10] },
      { name: 'b', errorsMm: [20], rgb: [200, 10, 10] },
    ],
    10,
    1,
    400,
    200,
  );
  const count = (rgb: number[]) => {
    let n = 0;
    for (let p = 0; p < histogram.data.length; p += 4)
      if (histogram.data[p] === rgb[0] && histogram.data[p + 1] === rgb[1] && histogram.data[p + 2] === rgb[2]) n++;
    return n;
  };
  const columnsOf = (rgb: number[], fromX: number, toX: number) => {
    let n = 0;
    for (let y = 0; y < 200; y++)
      for (let x = fromX; x < toX; x++) {
        const p = 4 * (y * 400 + x);
        if (histogram.data[p] === rgb[0] && histogram.data[p + 1] === rgb[1] && histogram.data[p + 2] === rgb[2]) n++;
      }
    return n;
  };
  assert.ok(count([10, 200, 10]) > 1000 && count([200, 10, 10]) > 1000, 'both series have full-height bars');
  assert.ok(columnsOf([10, 200, 10], 44, 100) > 1000 && columnsOf([10, 200, 10], 300, 400) < 300, 'series a at the left (key swatch aside)');
  assert.ok(columnsOf([200, 10, 10], 300, 400) > 1000 && columnsOf([200, 10, 10], 100, 300) === 0, 'series b in the last bin');
});

test('facegar eval synthetic --report writes the contact sheet, report.md and report.json', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-report-'));
  try {
    const report = join(dir, 'nested', 'report');
    const run = await runCli([
      'eval',
      'synthetic',
      '--n',
      '1',
      '--seed',
      '4',
      '--renderer',
      'graphics',
      '--landmark-steps',
      '10',
      '--photometric-steps',
      '0',
      '--report',
      report,
      '--quiet',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const png = await sharp(join(report, 'contact-sheet.png')).metadata();
    assert.deepEqual([png.width, png.height], [3 * 260 + 4, 264]);
    assert.match(await readFile(join(report, 'report.md'), 'utf8'), /Command: `facegar eval synthetic --n 1 --seed 4/);
    const json = JSON.parse(await readFile(join(report, 'report.json'), 'utf8'));
    assert.deepEqual(
      json.rows.map((r: { name: string }) => r.name),
      ['mean-face', 'graphics'],
    );
    assert.equal(json.images.length, 2);
    assert.equal(json.scenes.length, 1);
    assert.equal(typeof json.scenes[0].post.jpegQuality, 'number');
    const histogram = await sharp(join(report, 'error-histogram.png')).metadata();
    assert.deepEqual([histogram.width, histogram.height], [720, 360]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
