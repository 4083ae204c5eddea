// scripts/landmark-group-oracle.ts: the detector's points with one group swapped for the truth, fitted and scored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { runScript } from '../helpers/scripts.ts';

const script = 'scripts/landmark-group-oracle.ts';

test('landmark-group-oracle: every row on a one-face studio set; the true points beat the mean face; usage errors exit 2', { timeout: 240_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-group-oracle-'));
  try {
    const written = await runCli(['eval', 'synthetic', '--write-set', join(dir, 'set'), '--n', '1', '--seed', '3', '--quiet']);
    assert.equal(written.code, 0, written.stderr.slice(-400));
    const run = await runScript(script, ['--set', join(dir, 'set'), '--max-yaw', '90', '--json', join(dir, 'groups.json')], { timeoutMs: 200_000 });
    assert.equal(run.code, 0, run.stderr.slice(-600));
    const rows = new Map(
      run.stdout
        .trim()
        .split('\n')
        .map((line) => {
          const match = /^(.+?)\s+([\d.]+) × the mean face \(mean over (\d+) faces\)$/.exec(line);
          assert.ok(match, `line "${line}"`);
          assert.equal(match[3], '1');
          return [match[1], Number(match[2])] as const;
        }),
    );
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
