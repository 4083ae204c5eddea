import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trimLossLog } from '../../src/io/node/checkpoint-files.ts';

test('trimLossLog keeps the steps up to the checkpoint and drops later and cut-short lines', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-losslog-'));
  try {
    const lines = [1, 2, 3, 4, 5].map((step) => JSON.stringify({ step, lossG: step / 10 }));
    await writeFile(join(dir, 'losses.jsonl'), lines.join('\n') + '\n{"step":6,"lo');
    await trimLossLog(dir, 3);
    assert.equal(await readFile(join(dir, 'losses.jsonl'), 'utf8'), lines.slice(0, 3).join('\n') + '\n');
    await trimLossLog(dir, 0);
    assert.equal(await readFile(join(dir, 'losses.jsonl'), 'utf8'), '');
    await trimLossLog(join(dir, 'absent'), 3); // no log: nothing to do, no error
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
