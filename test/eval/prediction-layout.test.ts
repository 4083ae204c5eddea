import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeMiccPrediction, writeNowPrediction, type PredictionFile } from '../../src/eval/prediction-layout.ts';
import { NOW_LANDMARK_IBUG_INDICES } from '../../src/eval/now-protocol.ts';
import { meshToObj } from '../../src/io/mesh-export.ts';
import { sharedModel } from '../helpers/model.ts';
import { runCli } from '../helpers/cli.ts';

async function writeAll(root: string, files: PredictionFile[]) {
  for (const file of files) {
    await mkdir(dirname(join(root, file.path)), { recursive: true });
    await writeFile(join(root, file.path), file.bytes);
  }
}

test('prediction writers produce the layouts eval now and eval micc read', async () => {
  const model = await sharedModel();
  const neutral = model.neutral.slice(0, 3 * model.vertexCount);
  // Two "frames" whose mean is the neutral face: the MICC writer must average them.
  const offset = neutral.map((v, i) => v + (i % 3 === 2 ? 3 : 0));
  const back = neutral.map((v, i) => v - (i % 3 === 2 ? 3 : 0));
  const nowFiles = writeNowPrediction({ vertices: neutral }, model, { subject: 'FaMoS_001', subset: 'selfie', stem: 'IMG_0002' });
  assert.deepEqual(
    nowFiles.map((f) => f.path),
    ['FaMoS_001/selfie/IMG_0002.obj', 'FaMoS_001/selfie/IMG_0002.txt'],
  );
  const miccFiles = writeMiccPrediction([{ vertices: offset }, { vertices: back }], model, { subject: 'subject_01', setting: 'indoor' });
  assert.deepEqual(
    miccFiles.map((f) => f.path),
    ['subject_01/PTZ-Indoor.obj', 'subject_01/PTZ-Indoor.txt'],
  );
  const landmarkLines = new TextDecoder().decode(miccFiles[1].bytes).trim().split('\n');
  assert.equal(landmarkLines.length, 7);
  const nose = model.landmarkVertexIndices[NOW_LANDMARK_IBUG_INDICES[4]];
  assert.deepEqual(
    landmarkLines[4]
      .split(' ')
      .map(Number)
      .map((v) => Math.round(v * 100)),
    [0, 1, 2].map((a) => Math.round(neutral[3 * nose + a] * 100)),
  );
  assert.throws(() => writeMiccPrediction([{ vertices: neutral }], model, { subject: 'subject_01', setting: 'garden' }), /unknown MICC setting/);
  assert.throws(() => writeNowPrediction({ vertices: neutral }, model, { subject: '../x', subset: 'selfie', stem: 'a' }), /one path component/);

  const dir = await mkdtemp(join(tmpdir(), 'facegar-layout-'));
  try {
    // Scans: the neutral face itself (NoW: narrow area + 7 picked points; MICC: full area, OBJ).
    const scanObj = meshToObj({ positions: Float32Array.from(neutral), triangles: model.triangles });
    const picked = NOW_LANDMARK_IBUG_INDICES.map((k) => {
      const v = model.landmarkVertexIndices[k];
      return `<point x="${neutral[3 * v]}" y="${neutral[3 * v + 1]}" z="${neutral[3 * v + 2]}" name="${k}"/>`;
    }).join('\n');
    await mkdir(join(dir, 'now', 'scans', 'FaMoS_001'), { recursive: true });
    await mkdir(join(dir, 'now', 'scans_lmks_onlypp', 'FaMoS_001'), { recursive: true });
    await writeFile(join(dir, 'now', 'scans', 'FaMoS_001', 'scan.obj'), scanObj);
    await writeFile(join(dir, 'now', 'scans_lmks_onlypp', 'FaMoS_001', 'scan_picked_points.pp'), `<PickedPoints>\n${picked}\n</PickedPoints>\n`);
    await writeFile(join(dir, 'now', 'imagepathsvalidation.txt'), 'FaMoS_001/selfie/IMG_0002.jpg\n');
    await mkdir(join(dir, 'micc', 'subject_01', 'Model', 'frontal1', 'obj'), { recursive: true });
    await writeFile(join(dir, 'micc', 'subject_01', 'Model', 'frontal1', 'obj', 'scan.obj'), scanObj);
    await writeAll(join(dir, 'now-pred'), nowFiles);
    await writeAll(join(dir, 'micc-pred'), miccFiles);
    const now = await runCli(['eval', 'now', '--data', join(dir, 'now'), '--predictions', join(dir, 'now-pred'), '--json', '--quiet']);
    assert.equal(now.code, 0, now.stderr);
    const nowResult = JSON.parse(now.stdout);
    assert.equal(nowResult.scored, 1);
    assert.ok(nowResult.overall.meanMm < 0.01, `NoW mean ${nowResult.overall.meanMm}`);
    const micc = await runCli(['eval', 'micc', '--data', join(dir, 'micc'), '--predictions', join(dir, 'micc-pred'), '--json', '--quiet']);
    assert.equal(micc.code, 0, micc.stderr);
    const miccResult = JSON.parse(micc.stdout);
    assert.equal(miccResult.scored, 1);
    assert.equal(miccResult.settings.indoor.subjects, 1);
    assert.ok(miccResult.overall.rmseMm < 0.01, `MICC RMSE ${miccResult.overall.rmseMm}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
