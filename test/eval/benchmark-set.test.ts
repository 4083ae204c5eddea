// The test-set layout (--set / --write-set), the new row columns against hand-computed values,
// and the diagnostic rows' defining properties.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  medianRelativeError,
  modesByGeometricEffect,
  pearsonCorrelation,
  perModeCorrelation,
  identityCorrelationSummary,
} from '../../src/eval/identity-metrics.ts';
import { parseSetFace, setFaceJson, vertexBytes } from '../../src/eval/benchmark-set.ts';
import { benchmarkSceneSeed, studioBenchmarkFace } from '../../src/eval/synthetic-benchmark.ts';
import { renderStudioPhoto } from '../../src/shading/studio-renderer.ts';
import { sampleStudioScene } from '../../src/shading/studio-scene.ts';
import type { MorphableModel } from '../../src/morphable/morphable-model.ts';
import { sharedModel } from '../helpers/model.ts';
import { runCli } from '../helpers/cli.ts';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'facegar-set-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

test('identity correlation, mode ranking and focal error against hand-computed values', () => {
  // x = 1..4, y = 2x + noise-free → r = 1; y reversed → −1; constant → 0 (no information).
  assert.ok(Math.abs(pearsonCorrelation([1, 2, 3, 4], [2, 4, 6, 8]) - 1) < 1e-12);
  assert.ok(Math.abs(pearsonCorrelation([1, 2, 3, 4], [8, 6, 4, 2]) + 1) < 1e-12);
  assert.equal(pearsonCorrelation([1, 2, 3], [5, 5, 5]), 0);
  // x = [1, 2, 3], y = [1, 3, 2]: cov = 0.5·2/…: Σdxdy = (−1)(−1) + 0 + (1)(0) = 1, Σdx² = 2, Σdy² = 2 → r = 0.5.
  assert.ok(Math.abs(pearsonCorrelation([1, 2, 3], [1, 3, 2]) - 0.5) < 1e-12);
  // Three images, two modes: mode 0 fitted exactly (r = 1), mode 1 as [1, 3, 2] against [1, 2, 3] (r = 0.5).
  const perMode = perModeCorrelation(
    [
      [1, 1],
      [2, 3],
      [3, 2],
    ],
    [
      [1, 1],
      [2, 2],
      [3, 3],
    ],
  );
  assert.deepEqual(
    Array.from(perMode, (r) => Number(r.toFixed(12))),
    [1, 0.5],
  );
  assert.deepEqual(identityCorrelationSummary(perMode, [1]), { allModes: 0.75, topModes: 0.5 });
  // |700 − 500| / 500 = 0.4, |1000 − 1000| / 1000 = 0, |900 − 1200| / 1200 = 0.25 → median 0.25.
  assert.equal(medianRelativeError([700, 1000, 900], [500, 1000, 1200]), 0.25);
  // Modes ranked by basis norm over the vertices counted: mode 1 (norm 5 over vertex 0) first; over both vertices mode 0 (norm 6).
  const tiny = { vertexCount: 2, identityCount: 2, identityBasis: Float32Array.from([0, 0, 1, 0, 6, 0, 3, 4, 0, 0, 0, 0]) } as unknown as MorphableModel;
  assert.deepEqual(modesByGeometricEffect(tiny, 1), [1, 0]);
  assert.deepEqual(modesByGeometricEffect(tiny), [0, 1]);
});

test('a face record round-trips; bad fields are one-line errors naming the field', async () => {
  const model = await sharedModel();
  const face = studioBenchmarkFace(renderStudioPhoto(model, sampleStudioScene(model, benchmarkSceneSeed(1, 0), { width: 64, height: 64 })), 7);
  const json = JSON.parse(JSON.stringify(setFaceJson('0000', face.truth, model, 64, 64, { name: 'test' })));
  const bytes = vertexBytes(face.truth.verticesModel);
  const parsed = parseSetFace(json, bytes, model, 'x.json');
  assert.deepEqual(parsed.truth.verticesModel, face.truth.verticesModel);
  assert.deepEqual(parsed.truth.landmarks2d, face.truth.landmarks2d);
  assert.deepEqual(parsed.truth.identity, face.truth.identity);
  assert.deepEqual(parsed.truth.expression, face.truth.expression);
  assert.deepEqual(parsed.truth.rotation, face.truth.rotation);
  assert.equal(parsed.truth.focalPx, face.truth.focalPx);
  const broken = (change: (j: Record<string, unknown>) => void) => {
    const copy = structuredClone(json);
    change(copy);
    return copy;
  };
  assert.throws(
    () =>
      parseSetFace(
        broken((j) => {
          (j.rotation as number[])[0] = 0.5;
        }),
        bytes,
        model,
        'x.json',
      ),
    /^UsageError: x\.json: "rotation" is not a rotation matrix/,
  );
  assert.throws(
    () =>
      parseSetFace(
        broken((j) => {
          j.identity = [1, 2];
        }),
        bytes,
        model,
        'x.json',
      ),
    /"identity" must be an array of 100 numbers/,
  );
  assert.throws(
    () =>
      parseSetFace(
        broken((j) => {
          (j.expression as Record<string, number>).jawOpen = 3;
        }),
        bytes,
        model,
        'x.json',
      ),
    /"expression"\."jawOpen" = 3 is not a weight/,
  );
  assert.throws(() => parseSetFace(json, bytes.subarray(0, 12), model, 'x.json'), /vertex file has 12 bytes, expected 112908/);
});

test('--write-set then --set gives the on-the-fly numbers; oracle landmarks are far closer than the detector; true-pose has no focal error, true-focal about none', async () => {
  const dir = join(work, 'studio');
  const common = [
    '--seed',
    '5',
    '--renderer',
    'graphics',
    '--methods',
    'graphics,oracle-landmarks,true-pose,true-focal',
    '--landmark-steps',
    '60',
    '--photometric-steps',
    '0',
    '--json',
    '--quiet',
  ];
  const written = await runCli(['eval', 'synthetic', '--write-set', dir, '--n', '2', '--seed', '5', '--quiet']);
  assert.equal(written.code, 0, written.stderr);
  const [live, fromSet] = await Promise.all([runCli(['eval', 'synthetic', '--n', '2', ...common]), runCli(['eval', 'synthetic', '--set', dir, ...common])]);
  assert.equal(live.code, 0, live.stderr);
  assert.equal(fromSet.code, 0, fromSet.stderr);
  const withoutTime = (stdout: string) =>
    JSON.parse(stdout).rows.map((r: { msPerImage?: number }) => {
      delete r.msPerImage;
      return r;
    });
  const rows = withoutTime(live.stdout);
  assert.deepEqual(withoutTime(fromSet.stdout), rows);
  const byName = Object.fromEntries(rows.map((r: { name: string }) => [r.name, r]));
  assert.deepEqual(Object.keys(byName), ['mean-face', 'graphics', 'oracle-landmarks', 'true-pose', 'true-focal']);
  for (const key of [
    'faceMedianMm',
    'faceP90Mm',
    'ratioToMeanFace',
    'identityCorrelation',
    'identityCorrelationTop20',
    'focalErrorPct',
    'medianMm',
    'meanMm',
    'p90Mm',
    'byYaw',
  ])
    assert.ok(key in byName.graphics, key);
  assert.equal(byName['mean-face'].ratioToMeanFace, 1);
  assert.equal(byName['mean-face'].identityCorrelation, null);
  // Fed the detector's points, the oracle row would score about 1×; on these two faces the true points
  // give about half (0.49× with the landmark map fitted on Cycles seeds 10–11, 0.50× with seeds 10–13),
  // so 0.5 was too tight a bound for a test that checks the oracle row is fed the truth.
  assert.ok(
    byName['oracle-landmarks'].landmarkNme < 0.7 * byName.graphics.landmarkNme,
    `oracle NME ${byName['oracle-landmarks'].landmarkNme} vs detector ${byName.graphics.landmarkNme}`,
  );
  assert.equal(byName['true-pose'].focalErrorPct, 0);
  assert.ok(byName.graphics.focalErrorPct > 0);
  // Told the focal length as a known one (as EXIF tells it), the fit keeps it within a few percent; its pose stays free.
  assert.ok(byName['true-focal'].focalErrorPct < 2, `true-focal focal error ${byName['true-focal'].focalErrorPct} %`);
  assert.ok(byName['true-focal'].focalErrorPct < byName.graphics.focalErrorPct);
  assert.deepEqual(Object.keys(byName.graphics.byYaw), ['0-30', '30-60', '60-90']);
});

test('a bad set is a one-line error with its exit code', async () => {
  const dir = join(work, 'bad');
  const written = await runCli(['eval', 'synthetic', '--write-set', dir, '--n', '1', '--quiet']);
  assert.equal(written.code, 0, written.stderr);
  const score = () => runCli(['eval', 'synthetic', '--set', dir, '--renderer', 'graphics', '--landmark-steps', '5', '--photometric-steps', '0', '--quiet']);
  const truth = JSON.parse(await readFile(join(dir, '0000.json'), 'utf8'));
  await writeFile(join(dir, '0000.json'), JSON.stringify({ ...truth, focalPx: -3 }));
  let run = await score();
  assert.equal(run.code, 2);
  assert.match(run.stderr, /^facegar: .*0000\.json: "focalPx" = -3 is not a number/);
  assert.equal(run.stderr.trim().split('\n').length, 1);
  await writeFile(join(dir, '0000.json'), JSON.stringify(truth));
  await writeFile(join(dir, '0000.png'), 'not a png');
  run = await score();
  assert.equal(run.code, 4, run.stderr);
  run = await runCli(['eval', 'synthetic', '--set', join(dir, 'missing'), '--quiet']);
  assert.equal(run.code, 3, run.stderr);
  assert.match(run.stderr, /test set folder not found/);
});
