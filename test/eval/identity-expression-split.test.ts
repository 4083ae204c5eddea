// scripts/identity-expression-split.ts: the default fit's error split into identity and expression on a set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScript, runScriptOnOneFaceSet } from '../helpers/scripts.ts';

const script = 'scripts/identity-expression-split.ts';

test(
  'identity-expression-split: every row on a one-face studio set; the true identity beats the mean face; usage errors exit 2',
  { timeout: 240_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'facegar-split-'));
    try {
      const rows = await runScriptOnOneFaceSet(script, dir, ['--json', join(dir, 'split.json')], 'mm');
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
