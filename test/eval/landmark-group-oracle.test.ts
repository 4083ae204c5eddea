// scripts/landmark-group-oracle.ts: the detector's points with one group swapped for the truth, fitted and scored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScript, runScriptOnOneFaceSet } from '../helpers/scripts.ts';

const script = 'scripts/landmark-group-oracle.ts';

test('landmark-group-oracle: every row on a one-face studio set; the true points beat the mean face; usage errors exit 2', { timeout: 240_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-group-oracle-'));
  try {
    const rows = await runScriptOnOneFaceSet(script, dir, ['--max-yaw', '90', '--json', join(dir, 'groups.json')], '× the mean face');
    assert.deepEqual(
      [...rows.keys()],
      [
        'detected',
        'true (oracle)',
        'detected, true jaw',
        'detected, true brows',
        'detected, true nose',
        'detected, true eyes',
        'detected, true mouth',
        'detected, true all inner',
        'detected, moved as a whole onto the truth',
        "detected, the landmark map's jaw",
      ],
    );
    // The true points on the model's own vertices recover much of the identity (0.64× over the Cycles test set).
    assert.ok(rows.get('true (oracle)')! < 0.9, JSON.stringify([...rows]));
    const [record] = JSON.parse(await readFile(join(dir, 'groups.json'), 'utf8'));
    assert.ok(Math.abs(record['true (oracle)'] / record['mean face'] - rows.get('true (oracle)')!) < 1e-3);
    const usage = await runScript(script, ['--set', join(dir, 'set'), '--max-yaw', '0']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage:/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
