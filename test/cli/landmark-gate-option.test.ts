// --landmark-gate JSON (eval synthetic, eval aflw2000): the gate's options reach the run as typed
// values, and every malformed value is a UsageError (exit 2) naming the field.
import { test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { landmarkGateOption } from '../../src/cli/command-options.ts';
import { UsageError } from '../../src/common/errors.ts';
import { hasStackTrace, runCli } from '../helpers/cli.ts';

test('landmarkGateOption parses cropRefinements and reliability thresholds', () => {
  assert.equal(landmarkGateOption(undefined), undefined);
  assert.deepEqual(landmarkGateOption('{"cropRefinements": 2}'), { cropRefinements: 2 });
  assert.deepEqual(landmarkGateOption('{"reliability": {"minMeshScore": 0.2, "fullYawDeg": 70}}'), {
    reliability: { minMeshScore: 0.2, fullYawDeg: 70 },
  });
});

test('landmarkGateOption refuses what the gate cannot take', () => {
  const cases: [string, RegExp][] = [
    ['[1]', /JSON object/],
    ['{"cropRefinements": 1.5}', /integer from 0 to 3 .*cropRefinements/],
    ['{"cropRefinements": 4}', /integer from 0 to 3/],
    ['{"reliability": {"minMeshScore": -1}}', /≥ 0 .*reliability\.minMeshScore/],
    ['{"reliability": {"noSuchThreshold": 1}}', /Unknown --landmark-gate reliability field noSuchThreshold/],
    ['{"averageReplaced": true}', /Unknown --landmark-gate field averageReplaced/],
    ['not json', /JSON object/],
  ];
  for (const [value, message] of cases)
    assert.throws(
      () => landmarkGateOption(value),
      (error: unknown) => error instanceof UsageError && message.test(error.message),
    );
});

test('eval aflw2000 --landmark-gate: a bad value exits 2 before loading anything; the graphics path refuses it', async () => {
  const bad = await runCli(['eval', 'aflw2000', '--data', '.', '--landmark-gate', '{"cropRefinements": 9}']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /integer from 0 to 3/);
  assert.ok(!hasStackTrace(bad.stderr));

  // Names are all the check before the renderer's needs: the files are never read.
  const dir = await mkdtemp(join(tmpdir(), 'facegar-gate-'));
  await writeFile(join(dir, 'image00001.jpg'), '');
  await writeFile(join(dir, 'image00001.mat'), '');
  const graphics = await runCli(['eval', 'aflw2000', '--data', dir, '--renderer', 'graphics', '--landmark-gate', '{"cropRefinements": 1}']);
  await rm(dir, { recursive: true, force: true });
  assert.equal(graphics.code, 2, graphics.stderr);
  assert.match(graphics.stderr, /--landmark-gate belongs to the GAR path/);
  assert.ok(!hasStackTrace(graphics.stderr));
});
