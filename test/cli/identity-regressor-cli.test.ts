import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, hasStackTrace } from '../helpers/cli.ts';
import { photosDir } from '../helpers/shared-data.ts';

// The graphics path's landmark stage only: where the identity regressor's estimate centres the prior.
const FAST = ['--renderer', 'graphics', '--landmark-steps', '40', '--photometric-steps', '0', '--workers', '1'];

test('the graphics path takes the shipped identity regressor by default and its JSON says so; --identity-regressor none and a missing folder as asked', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-identity-regressor-'));
  try {
    const photo = join(dir, 'face.jpg');
    await copyFile(join(photosDir, '000002.jpg'), photo);
    const fit = async (out: string, extra: string[]) => {
      const run = await runCli(['reconstruct', photo, '--out', join(dir, out), ...FAST, ...extra]);
      assert.equal(run.code, 0, run.stderr);
      const json = JSON.parse(await readFile(join(dir, out, 'face.jpg.json'), 'utf8'));
      return { json };
    };
    const regressed = await fit('regressed', []);
    assert.equal(regressed.json.renderer, 'graphics');
    assert.equal(regressed.json.identityRegressor, true);
    assert.ok(regressed.json.timingsMs.fit > 0);
    const plain = await fit('plain', ['--identity-regressor', 'none']);
    assert.equal(plain.json.identityRegressor, false);
    const moved = Math.max(...regressed.json.identity.map((v: number, k: number) => Math.abs(v - plain.json.identity[k])));
    assert.ok(moved > 0.05, `the regressor's estimate moves the fitted identity (by ${moved})`);
    const missing = await runCli(['reconstruct', photo, '--out', join(dir, 'missing'), ...FAST, '--identity-regressor', join(dir, 'nowhere')]);
    assert.equal(missing.code, 6, missing.stderr);
    assert.match(missing.stderr, /no identity regressor there/);
    assert.ok(!hasStackTrace(missing.stderr));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
