import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchResumeCheck } from '../../scripts/batch-resume-check.ts';
import { testCacheDir } from '../helpers/shared-data.ts';

// The full 200-input run is `node --import tsx scripts/batch-resume-check.ts`; this is its small twin.
test('a batch killed with SIGKILL half-way and resumed ends identical to an uninterrupted one', async () => {
  const result = await batchResumeCheck({
    count: 12,
    extraArgs: ['--landmark-steps', '40', '--photometric-steps', '4'],
    env: { FACEGAR_CACHE_DIR: testCacheDir },
  });
  assert.ok(result.killedAfter >= 6 && result.killedAfter < 12, `killed after ${result.killedAfter} of 12`);
  assert.deepEqual(result.differences, []);
});
