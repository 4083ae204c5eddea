// scripts/identity-expression-split.ts: the default fit's error split into identity and expression on a set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { runScript } from '../helpers/scripts.ts';

const script = 'scripts/identity-expression-split.ts';

test(
  'identity-expression-split: every row on a one-face studio set; the true identity beats the mean face; usage errors exit 2',
  { timeout: 240_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'facegar-split-'));
    try {
      const written = await runCli(['eval', 'synthetic', '--write-set', join(dir, 'set'), '--n', '1', '--seed', '3', '--quiet']);
      assert.equal(written.code, 0, written.stderr.slice(-400));
      const run = await runScript(script, ['--set', join(dir, 'set'), '--json', join(dir, 'split.json')], { timeoutMs: 200_000 });
      assert.equal(run.code, 0, run.stderr.slice(-600));
      const rows = new Map(
        run.stdout
          .trim()
          .split('\n')
          .map((line) => {
            const match = /^(.+?)\s+([\d.]+) mm \(mean over (\d+) faces\)$/.exec(line);
            assert.ok(match, `line "${line}"`);
            assert.equal(match[3], '1');
            return [match[1], Number(match[2])] as const;
          }),
      );
      assert.equal(rows.size, 7);
      assert.ok(rows.get('mean face')! > 0.5, `mean face ${rows.get('mean face')}`);
      // The identity is most of a face's difference from the mean face: the true one with the fitted expression is far closer.
      assert.ok(rows.get('true identity, fitted expression')! < 0.6 * rows.get('mean face')!, JSON.stringify([...rows]));
      const usage = await runScript(script, []);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /usage:/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
