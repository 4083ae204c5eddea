import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { matElement, parseMatFile } from '../../src/io/mat-file.ts';
import { AFLW_PIXEL_OFFSET, aflwGroundTruth, aflwNme, aflwYawBucket, landmarkBoxSize, summarizeAflw } from '../../src/eval/aflw2000-protocol.ts';
import { renderStudioPhoto } from '../../src/shading/studio-renderer.ts';
import { sampleStudioScene } from '../../src/shading/studio-scene.ts';
import { sharedModel } from '../helpers/model.ts';
import { runCli } from '../helpers/cli.ts';
import { writeMat, type MatVariable } from '../../scripts/hostile/mat-writer.ts';

test('MAT v5 reader round-trips numeric and char arrays, uncompressed and compressed', async () => {
  const points = Array.from({ length: 3 * 68 }, (_, i) => i * 1.5 - 20);
  const variables: MatVariable[] = [
    { name: 'pt3d_68', className: 'double', dims: [3, 68], data: points },
    { name: 'Pose_Para', className: 'single', dims: [1, 7], data: [0.1, -0.5, 0.2, 100, 120, 0, 0.001] },
    { name: 'ids', className: 'int32', dims: [1, 1], data: [-7] },
    { name: 'label', className: 'char', dims: [1, 5], text: 'hello' },
  ];
  for (const compressed of [false, true]) {
    const read = await parseMatFile(await writeMat(variables, compressed));
    assert.deepEqual([...read.keys()], ['pt3d_68', 'Pose_Para', 'ids', 'label']);
    const pt = read.get('pt3d_68')!;
    assert.deepEqual(pt.dims, [3, 68]);
    assert.equal(pt.className, 'double');
    assert.deepEqual(Array.from(pt.data), points);
    assert.equal(matElement(pt, 1, 2), points[7]);
    assert.ok(Math.abs(read.get('Pose_Para')!.data[1] + 0.5) < 1e-7);
    assert.deepEqual(Array.from(read.get('ids')!.data), [-7], 'small data element');
    assert.equal(read.get('label')!.text, 'hello');
    const truth = aflwGroundTruth(read);
    assert.deepEqual(
      Array.from(truth.landmarks2d.slice(0, 4)),
      [points[0], points[1], points[3], points[4]].map((v) => v - AFLW_PIXEL_OFFSET),
      'MATLAB 1-based pixels → facegar pixels',
    );
    assert.ok(Math.abs(truth.yawDeg + (0.5 * 180) / Math.PI) < 1e-4);
  }
  await assert.rejects(parseMatFile(new Uint8Array(10)), /128-byte header/);
});

test('AFLW NME, box size and yaw buckets', () => {
  const truth = new Float64Array(136);
  for (let k = 0; k < 68; k++) {
    truth[2 * k] = 100 + (k % 10) * 10;
    truth[2 * k + 1] = 50 + Math.floor(k / 10) * 15;
  }
  assert.ok(Math.abs(landmarkBoxSize(truth) - Math.sqrt(90 * 90)) < 1e-9);
  const shifted = truth.map((v, i) => (i % 2 ? v + 4.5 : v));
  assert.ok(Math.abs(aflwNme(shifted, truth) - 0.05) < 1e-12);
  assert.deepEqual([0, 29.9, -30, 59, -75, 95].map(aflwYawBucket), ['0-30', '0-30', '30-60', '30-60', '60-90', '60-90']);
  const summary = summarizeAflw([
    { name: 'a', yawDeg: 10, ok: true, nme: 0.02, ms: 1 },
    { name: 'b', yawDeg: -20, ok: true, nme: 0.04, ms: 1 },
    { name: 'c', yawDeg: 45, ok: true, nme: 0.05, ms: 1 },
    { name: 'd', yawDeg: 80, ok: false, failure: 'noFace', ms: 1 },
    { name: 'e', yawDeg: 70, ok: true, nme: 0.09, ms: 1 },
  ]);
  assert.ok(Math.abs(summary.byYaw['0-30'].nme - 0.03) < 1e-12);
  assert.deepEqual([summary.byYaw['60-90'].images, summary.byYaw['60-90'].failures], [2, 1]);
  assert.ok(Math.abs(summary.meanNme - (0.03 + 0.05 + 0.09) / 3) < 1e-12);
  assert.equal(summary.successRate, 0.8);
});

test('facegar eval aflw2000 on a fake AFLW folder of studio renders', async () => {
  const model = await sharedModel();
  const dir = await mkdtemp(join(tmpdir(), 'facegar-aflw-'));
  try {
    const yaws = [12, -42];
    for (const [i, yaw] of yaws.entries()) {
      const scene = sampleStudioScene(model, 700 + i, { width: 320, height: 320, faceFraction: [0.5, 0.55] });
      scene.anglesDeg = [4, yaw, 2];
      const { image, truth } = renderStudioPhoto(model, scene);
      const name = `image0000${i + 2}`;
      await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
        raw: { width: image.width, height: image.height, channels: 4 },
      })
        .jpeg({ quality: 95 })
        .toFile(join(dir, `${name}.jpg`));
      const pt3d = Array.from({ length: 68 }, (_, k) => [
        truth.landmarks2d[2 * k] + AFLW_PIXEL_OFFSET,
        truth.landmarks2d[2 * k + 1] + AFLW_PIXEL_OFFSET,
        0,
      ]).flat();
      await writeFile(
        join(dir, `${name}.mat`),
        await writeMat(
          [
            { name: 'pt3d_68', className: 'double', dims: [3, 68], data: pt3d },
            { name: 'Pose_Para', className: 'double', dims: [1, 7], data: [(4 * Math.PI) / 180, (yaw * Math.PI) / 180, (2 * Math.PI) / 180, 0, 0, 0, 1] },
          ],
          i === 0,
        ),
      );
    }
    // A photo without a face at 75° yaw: a detection miss counts as a failure in the 60–90 bucket.
    await sharp({ create: { width: 200, height: 200, channels: 3, background: { r: 90, g: 120, b: 160 } } })
      .jpeg()
      .toFile(join(dir, 'image00009.jpg'));
    await writeFile(
      join(dir, 'image00009.mat'),
      await writeMat(
        [
          { name: 'pt3d_68', className: 'double', dims: [3, 68], data: Array.from({ length: 204 }, (_, i) => 50 + (i % 3 === 2 ? 0 : (i * 7) % 100)) },
          { name: 'Pose_Para', className: 'double', dims: [1, 7], data: [0, (75 * Math.PI) / 180, 0, 0, 0, 0, 1] },
        ],
        true,
      ),
    );
    await writeFile(join(dir, 'image00010.jpg'), 'no .mat beside me: skipped');
    const run = await runCli(['eval', 'aflw2000', '--data', dir, '--json', '--landmark-steps', '30', '--photometric-steps', '0']);
    assert.equal(run.code, 0, run.stderr.slice(0, 2000));
    const result = JSON.parse(run.stdout);
    assert.equal(result.images, 3);
    assert.deepEqual(
      Object.values(result.byYaw).map((b) => (b as { images: number }).images),
      [1, 1, 1],
    );
    assert.equal(result.byYaw['60-90'].failures, 1);
    assert.ok(Math.abs(result.successRate - 2 / 3) < 1e-9, `success ${result.successRate}`);
    for (const key of ['0-30', '30-60']) assert.ok(result.byYaw[key].nme > 0 && result.byYaw[key].nme < 0.08, `${key} NME ${result.byYaw[key].nme}`);
    assert.match(run.stderr, /3\/3 image00009\.jpg yaw 75°: failed \(noFace\)/);
    const limited = await runCli(['eval', 'aflw2000', '--data', join(dir, 'missing'), '--limit', '1']);
    assert.equal(limited.code, 3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
