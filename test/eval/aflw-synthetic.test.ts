// Synthetic folders in AFLW2000-3D's layout: the yaw spread, the annotation's conventions, and the
// CLI that writes them (from studio renders and from a rendered set) and scores detection on them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { AFLW_PIXEL_OFFSET, aflwGroundTruth } from '../../src/eval/aflw2000-protocol.ts';
import { aflwAnnotation, aflwMatVariables, renderSyntheticAflwImage, spreadYawsDeg } from '../../src/eval/aflw-synthetic.ts';
import { encodeMatFile, parseMatFile } from '../../src/io/mat-file.ts';
import { renderStudioPhoto } from '../../src/shading/studio-renderer.ts';
import { studioBenchmarkFace } from '../../src/eval/synthetic-benchmark.ts';
import { writeSyntheticSet } from '../../src/io/node/synthetic-set-files.ts';
import { sampleStudioScene } from '../../src/shading/studio-scene.ts';
import { sharedModel } from '../helpers/model.ts';
import { runCli } from '../helpers/cli.ts';

test('spreadYawsDeg: |yaw| covers 0–90° evenly, every prefix too; deterministic, both signs', () => {
  const yaws = spreadYawsDeg(90, 1);
  assert.deepEqual(yaws, spreadYawsDeg(90, 1));
  assert.notDeepEqual(yaws, spreadYawsDeg(90, 2));
  assert.ok(yaws.every((y) => Math.abs(y) < 90));
  assert.ok(yaws.some((y) => y < 0) && yaws.some((y) => y > 0));
  for (const n of [6, 30, 90]) {
    const bins = [0, 0, 0];
    for (const y of yaws.slice(0, n)) bins[Math.floor(Math.abs(y) / 30)]++;
    assert.ok(
      bins.every((b) => Math.abs(b - n / 3) <= 1),
      `first ${n}: ${bins} per 30° bin`,
    );
  }
  const sorted = yaws.map(Math.abs).sort((a, b) => a - b);
  const largestGap = Math.max(sorted[0], ...sorted.slice(1).map((v, i) => v - sorted[i]), 90 - sorted[sorted.length - 1]);
  assert.ok(largestGap < 3, `largest gap ${largestGap}° between 90 yaws`);
});

test('renderSyntheticAflwImage: pt3d_68 in 1-based pixels on the face, depth larger = nearer; the protocol reads back its yaw and points', async () => {
  const model = await sharedModel();
  const rendered = renderSyntheticAflwImage(model, 2, { count: 5, seed: 3, sizePx: 128 });
  assert.equal(rendered.name, 'image00003');
  assert.equal(rendered.yawDeg, spreadYawsDeg(5, 3)[2]);
  assert.deepEqual([rendered.image.width, rendered.image.height], [128, 128]);
  assert.equal((rendered.scene as { anglesDeg: number[] }).anglesDeg[1], Number(rendered.yawDeg.toPrecision(6)));
  const truth = aflwGroundTruth(await parseMatFile(await encodeMatFile(aflwMatVariables(rendered.annotation), { compress: true })));
  assert.ok(Math.abs(truth.yawDeg - rendered.yawDeg) < 1e-9);
  for (let k = 0; k < 68; k++) assert.ok(Math.abs(truth.landmarks2d[2 * k] - (rendered.annotation.pt3d68[3 * k] - AFLW_PIXEL_OFFSET)) < 1e-9);
  // The studio framing: forehead to chin 35–60 % of the height, near the centre.
  const ys = [...Array(68).keys()].map((k) => truth.landmarks2d[2 * k + 1]);
  const height = Math.max(...ys) - Math.min(...ys);
  assert.ok(height > 0.2 * 128 && height < 0.6 * 128, `landmark height ${height} px`);
  const z = (k: number) => rendered.annotation.pt3d68[3 * k + 2];
  assert.ok(Math.abs([...Array(68).keys()].reduce((sum, k) => sum + z(k), 0)) < 1e-6, 'z is centred on the landmarks');
  assert.ok(z(30) > z(0) && z(30) > z(16), `nose tip ${z(30)} nearer than the jaw ends ${z(0)}, ${z(16)}`);
});

test('aflwAnnotation from a posed mesh: x, y are the projection + the 1-based offset', () => {
  const landmarksModel = new Float32Array(68 * 3).map((_, i) => ((i * 37) % 101) - 50);
  const camera = { focalPx: 800, principalPointPx: [200, 150] as [number, number], width: 400, height: 300 };
  const { pt3d68, poseParams } = aflwAnnotation(landmarksModel, [1, 0, 0, 0, 1, 0, 0, 0, 1], [0, 0, -1000], camera, [5, -60, 2]);
  // p_cam = p + t: u = cx + f·x/(1000 − z), v = cy − f·y/(1000 − z).
  const x = landmarksModel[0],
    y = landmarksModel[1],
    zc = landmarksModel[2] - 1000;
  assert.ok(Math.abs(pt3d68[0] - (200 + (800 * x) / -zc + AFLW_PIXEL_OFFSET)) < 1e-4);
  assert.ok(Math.abs(pt3d68[1] - (150 - (800 * y) / -zc + AFLW_PIXEL_OFFSET)) < 1e-4);
  assert.ok(Math.abs(poseParams[1] + (60 * Math.PI) / 180) < 1e-12);
  assert.ok(Math.abs(poseParams[6] - 0.8) < 1e-3, 'scale ≈ f / depth px per mm');
});

test('facegar eval aflw2000 --write-synthetic (studio renders, and a rendered set) and --detect-only recall per bin', async () => {
  const model = await sharedModel();
  const dir = await mkdtemp(join(tmpdir(), 'facegar-aflw-synthetic-'));
  try {
    const out = join(dir, 'studio');
    const write = await runCli(['eval', 'aflw2000', '--write-synthetic', out, '--n', '3', '--seed', '4', '--size', '256']);
    assert.equal(write.code, 0, write.stderr.slice(0, 2000));
    const names = (await readdir(out)).sort();
    assert.deepEqual(names, ['image00001.jpg', 'image00001.mat', 'image00002.jpg', 'image00002.mat', 'image00003.jpg', 'image00003.mat', 'synthetic-set.json']);
    const manifest = JSON.parse(await readFile(join(out, 'synthetic-set.json'), 'utf8'));
    const yaws = spreadYawsDeg(3, 4);
    assert.deepEqual(
      manifest.images.map((i: { yawDeg: number }) => i.yawDeg),
      yaws.map((y) => Number(y.toFixed(3))),
    );
    const info = await sharp(join(out, 'image00002.jpg')).metadata();
    assert.deepEqual([info.format, info.width, info.height], ['jpeg', 256, 256]);
    const truth = aflwGroundTruth(await parseMatFile(new Uint8Array(await readFile(join(out, 'image00002.mat')))));
    assert.ok(Math.abs(truth.yawDeg - yaws[1]) < 1e-9);

    const detect = await runCli(['eval', 'aflw2000', '--data', out, '--detect-only', '--json']);
    assert.equal(detect.code, 0, detect.stderr.slice(0, 2000));
    const result = JSON.parse(detect.stdout);
    assert.deepEqual(
      Object.values(result.byYaw).map((b) => (b as { images: number }).images),
      yaws
        .map((y) => Math.floor(Math.abs(y) / 30))
        .reduce(
          (bins, b) => {
            bins[b]++;
            return bins;
          },
          [0, 0, 0],
        ),
    );
    const frontal = result.samples.find((s: { yawDeg: number }) => Math.abs(s.yawDeg) < 30);
    assert.ok(frontal.ok && frontal.nme > 0 && frontal.nme < 0.08, `frontal face: ${JSON.stringify(frontal)}`);
    const table = await runCli(['eval', 'aflw2000', '--data', out, '--detect-only', '--quiet']);
    assert.match(table.stdout, /0-30 .* found \d of \d/);

    // A rendered set with exact truth (`eval synthetic --set`'s layout, as scripts/render-cycles-set.py writes it) → the same layout.
    const set = join(dir, 'set');
    const render = renderStudioPhoto(model, sampleStudioScene(model, 11, { width: 200, height: 160, yawDeg: -70 }));
    await writeSyntheticSet(set, [studioBenchmarkFace(render, 11)], model, { name: 'test' });
    const studio = render.truth;
    const converted = join(dir, 'converted');
    const convert = await runCli(['eval', 'aflw2000', '--write-synthetic', converted, '--from-set', set]);
    assert.equal(convert.code, 0, convert.stderr.slice(0, 2000));
    const read = aflwGroundTruth(await parseMatFile(new Uint8Array(await readFile(join(converted, 'image00001.mat')))));
    for (let k = 0; k < 136; k++) assert.ok(Math.abs(read.landmarks2d[k] - studio.landmarks2d[k]) < 1e-3, `converted landmark value ${k}`);
    assert.ok(Math.abs(read.yawDeg + 70) < 1e-9);
    assert.equal((await runCli(['eval', 'aflw2000', '--write-synthetic', converted, '--from-set', set, '--n', '4'])).code, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
