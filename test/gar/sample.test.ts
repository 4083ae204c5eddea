import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, hasStackTrace } from '../helpers/cli.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';

test('facegar sample on a 2-step tiny run: grid of normal map | renders, seeded, typed errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-sample-'));
  try {
    const data = join(dir, 'ds'),
      runDir = join(dir, 'run');
    const prepared = await runCli(['prepare', '--synthetic', '4', '--out', data, '--size', '32', '-q']);
    assert.equal(prepared.code, 0, prepared.stderr);
    const trained = await runCli(['train-gar', '--data', data, '--out', runDir, '--steps', '2', '--batch', '2', '--checkpoint-every', '2', '-q']);
    assert.equal(trained.code, 0, trained.stderr);

    const gridPath = join(dir, 'grid.png');
    const sampled = await runCli(['sample', '--gar', runDir, '--out', gridPath, '--n', '3', '--latents', '2', '--seed', '4']);
    assert.equal(sampled.code, 0, sampled.stderr);
    assert.match(sampled.stderr, /3×2 renders at 32² from step 2/);
    const grid = await decodeImageFile(gridPath);
    assert.equal(grid.width, 3 * 32, 'normal map + 2 render columns');
    assert.equal(grid.height, 3 * 32, 'one row per geometry');
    const pixel = (x: number, y: number) => Array.from(grid.data.subarray((y * grid.width + x) * 4, (y * grid.width + x) * 4 + 3));
    // Column 0 is a normal map: black background in the corner, a face in the middle whose
    // normal faces the camera (blue n_z·0.5+0.5 > ½).
    for (let row = 0; row < 3; row++) {
      assert.deepEqual(pixel(0, row * 32), [0, 0, 0], `row ${row} normal-map corner`);
      assert.ok(pixel(16, row * 32 + 16)[2] > 128, `row ${row} normal-map centre ${pixel(16, row * 32 + 16)}`);
    }
    // Render columns differ from each other (different latents) and from the normal map.
    let differs = 0,
      fromNormals = 0;
    for (let y = 0; y < 96; y++)
      for (let x = 0; x < 32; x++) {
        for (let c = 0; c < 3; c++) {
          differs += Math.abs(pixel(32 + x, y)[c] - pixel(64 + x, y)[c]);
          fromNormals += Math.abs(pixel(32 + x, y)[c] - pixel(x, y)[c]);
        }
      }
    assert.ok(differs > 0 && fromNormals > 0, `${differs} ${fromNormals}`);

    const again = join(dir, 'again.png'),
      other = join(dir, 'other.png');
    assert.equal((await runCli(['sample', '--gar', runDir, '--out', again, '--n', '3', '--latents', '2', '--seed', '4', '-q'])).code, 0);
    assert.deepEqual(await readFile(again), await readFile(gridPath), 'same seed, same grid');
    assert.equal((await runCli(['sample', '--gar', runDir, '--out', other, '--n', '3', '--latents', '2', '--seed', '5', '-q'])).code, 0);
    assert.notDeepEqual(await readFile(other), await readFile(gridPath), 'another seed, another grid');

    const missing = await runCli(['sample', '--gar', join(dir, 'nowhere'), '--out', join(dir, 'x.png')]);
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /no GAR checkpoint/);
    assert.ok(!hasStackTrace(missing.stderr));
    const bad = await runCli(['sample', '--gar', runDir, '--out', join(dir, 'x.png'), '--n', '0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--n/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
