// The synthetic benchmark's GAR rows (the paper's mean-init and encoder-init variants) beside the
// graphics row, with tiny random-weight networks: the plumbing, not the accuracy.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableBenchmarkMethods, formatBenchmarkTable, runSyntheticBenchmark } from '../../src/eval/synthetic-benchmark.ts';
import { Reconstructor } from '../../src/api/reconstruct.ts';
import { initBackend } from '../../src/engine/backend.ts';
import { loadDetectorModelFiles } from '../../src/io/node/detector-models.ts';
import { readGarModelFiles } from '../../src/io/node/gar-models.ts';
import { sharedModel } from '../helpers/model.ts';
import { runCli } from '../helpers/cli.ts';
import { writeTinyGarModels } from '../cli/reconstruct-gar-fixtures.ts';

let work: string;
before(async () => {
  await initBackend({ backend: 'wasm' });
  work = await mkdtemp(join(tmpdir(), 'facegar-gar-eval-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

test('gar-mean-init and gar-encoder-init rows share the table with graphics; methods follow what the reconstructor holds', async () => {
  const model = await sharedModel();
  const detector = await loadDetectorModelFiles();
  await writeTinyGarModels(model, join(work, 'gar'), join(work, 'encoder'));
  const withEncoder = await Reconstructor.create({
    model,
    detector,
    gar: await readGarModelFiles({ garDir: join(work, 'gar'), encoderDir: join(work, 'encoder') }),
  });
  const garOnly = await Reconstructor.create({ model, detector, gar: await readGarModelFiles({ garDir: join(work, 'gar') }) });
  try {
    assert.deepEqual(availableBenchmarkMethods(withEncoder), ['graphics', 'gar-mean-init', 'gar-encoder-init']);
    assert.deepEqual(availableBenchmarkMethods(garOnly), ['graphics', 'gar-mean-init']);
    await assert.rejects(runSyntheticBenchmark(model, garOnly, { count: 1, methods: ['gar-encoder-init'] }), /needs an encoder/);
    const lines: string[] = [];
    const result = await runSyntheticBenchmark(
      model,
      withEncoder,
      {
        count: 2,
        seed: 3,
        methods: ['graphics', 'gar-mean-init', 'gar-encoder-init', 'true-pose'],
        fit: { landmarkSteps: 20, photometricSteps: 0 },
        garPreset: 'fast',
        garRefine: { steps: 3 },
      },
      (_i, _n, line) => lines.push(line),
    );
    assert.deepEqual(
      result.rows.map((r) => r.name),
      ['mean-face', 'graphics', 'gar-mean-init', 'gar-encoder-init', 'true-pose'],
    );
    // true-pose runs the default (GAR) path with the true camera held: its focal length is the truth's.
    assert.equal(result.rows[4].focalErrorPct, 0);
    assert.ok(result.rows[3].focalErrorPct! > 0);
    for (const row of result.rows.slice(2)) {
      assert.ok(row.successRate > 0, `${row.name} fitted a face`);
      assert.ok(row.medianMm > 0 && row.p90Mm >= row.medianMm, `${row.name}: median ${row.medianMm}, p90 ${row.p90Mm}`);
      assert.ok(row.landmarkNme! > 0 && row.landmarkNme! < 0.5, `${row.name}: NME ${row.landmarkNme}`);
      assert.equal(
        Object.values(row.byYaw).reduce((s, b) => s + b.images, 0),
        result.samples[row.name].filter((s) => s.ok).length,
      );
    }
    // Different starts, different meshes.
    assert.notDeepEqual(result.samples['gar-mean-init'][0].vertices, result.samples['gar-encoder-init'][0].vertices);
    assert.match(lines[0], /graphics median .*gar-mean-init median .*gar-encoder-init median/);
    assert.match(formatBenchmarkTable(result.rows), /graphics .*\n.*gar-mean-init .*\n.*gar-encoder-init/);
  } finally {
    withEncoder.dispose();
    garOnly.dispose();
  }
});

test('facegar eval synthetic --gar --encoder prints the GAR rows in the same table; an encoder row without an encoder exits 6', async () => {
  const garDir = join(work, 'cli-gar'),
    encoderDir = join(work, 'cli-encoder');
  await writeTinyGarModels(await sharedModel(), garDir, encoderDir);
  const run = await runCli([
    'eval',
    'synthetic',
    '--n',
    '1',
    '--seed',
    '2',
    '--gar',
    garDir,
    '--encoder',
    encoderDir,
    '--preset',
    'fast',
    '--gar-steps',
    '2',
    '--gar-refine',
    '{"pixelWeight": 0.01, "landmarkStageSteps": 20}',
    '--landmark-steps',
    '20',
    '--photometric-steps',
    '0',
    '--json',
  ]);
  assert.equal(run.code, 0, run.stderr.slice(-600));
  const parsed = JSON.parse(run.stdout);
  assert.deepEqual(
    parsed.rows.map((r: { name: string }) => r.name),
    ['mean-face', 'graphics', 'gar-mean-init', 'gar-encoder-init', 'oracle-landmarks'],
  );
  for (const row of parsed.rows.slice(1)) for (const key of ['medianMm', 'p90Mm', 'byYaw']) assert.ok(key in row, `${row.name}.${key}`);
  const misspelt = await runCli(['eval', 'synthetic', '--n', '1', '--gar', garDir, '--gar-refine', '{"pixelWeigth": 0.01}']);
  assert.equal(misspelt.code, 2, misspelt.stderr);
  assert.match(misspelt.stderr, /pixelWeigth/);
  const noEncoder = await runCli(['eval', 'synthetic', '--n', '1', '--gar', garDir, '--methods', 'gar-encoder-init']);
  assert.equal(noEncoder.code, 6, noEncoder.stderr);
  assert.match(noEncoder.stderr, /needs an encoder/);
});
