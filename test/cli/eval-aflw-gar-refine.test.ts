// eval aflw2000 --gar-refine JSON: the preset's refinement overrides reach the fits (as in eval synthetic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasStackTrace, runCli } from '../helpers/cli.ts';

test('eval aflw2000 --gar-refine: bad values and the wrong path exit 2 with one line; a landmark stage added to the instant preset changes the fit', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-aflw-refine-'));
  try {
    const bad = await runCli(['eval', 'aflw2000', '--data', dir, '--gar-refine', '{"pixelWeight": -1}']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /pixelWeight/);
    assert.ok(!hasStackTrace(bad.stderr));

    const data = join(dir, 'aflw');
    assert.equal((await runCli(['eval', 'aflw2000', '--write-synthetic', data, '--n', '1', '--seed', '2', '--size', '256'])).code, 0);
    const detectOnly = await runCli(['eval', 'aflw2000', '--data', data, '--detect-only', '--gar-refine', '{"steps": 5}']);
    assert.equal(detectOnly.code, 2, detectOnly.stderr);
    assert.match(detectOnly.stderr, /--gar-refine has no effect with --detect-only/);
    const graphics = await runCli(['eval', 'aflw2000', '--data', data, '--renderer', 'graphics', '--gar-refine', '{"steps": 5}']);
    assert.equal(graphics.code, 2, graphics.stderr);
    assert.match(graphics.stderr, /--gar-refine belongs to the GAR path/);

    const nme = async (extra: string[]) => {
      const run = await runCli(['eval', 'aflw2000', '--data', data, '--preset', 'instant', '--json', '--quiet', ...extra]);
      assert.equal(run.code, 0, run.stderr);
      const summary = JSON.parse(run.stdout) as { successRate: number; meanNme: number };
      assert.equal(summary.successRate, 1);
      return summary.meanNme;
    };
    const instant = await nme([]);
    const withLandmarkStage = await nme(['--gar-refine', '{"landmarkStageSteps": 60}']);
    assert.notEqual(withLandmarkStage, instant, 'the override ran a landmark stage the instant preset skips');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
