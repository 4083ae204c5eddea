// --landmark-gate JSON (eval synthetic, eval aflw2000): the gate's options reach the run as typed
// values, and every malformed value is a UsageError (exit 2) naming the field.
import { test } from 'node:test';
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

test('eval aflw2000 --landmark-gate with a bad value exits 2 before loading anything', async () => {
  const run = await runCli(['eval', 'aflw2000', '--data', '.', '--landmark-gate', '{"cropRefinements": 9}']);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /integer from 0 to 3/);
  assert.ok(!hasStackTrace(run.stderr));
});
