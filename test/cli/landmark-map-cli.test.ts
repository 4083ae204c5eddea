// `facegar reconstruct --landmark-map FILE|none` on a turned studio render: the shipped map is
// followed by default (JSON landmarkMap), none turns it off, and a damaged file exits 6 without a
// stack trace.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '../../src/io/node/encode-image.ts';
import { renderStudioPhoto } from '../../src/shading/studio-renderer.ts';
import { sampleStudioScene } from '../../src/shading/studio-scene.ts';
import { hasStackTrace, runCli } from '../helpers/cli.ts';
import { sharedModel } from '../helpers/model.ts';

let work: string, photo: string;
before(async () => {
  const model = await sharedModel();
  work = await mkdtemp(join(tmpdir(), 'facegar-map-cli-'));
  photo = join(work, 'turned.png');
  const { image } = renderStudioPhoto(model, sampleStudioScene(model, 9055, { width: 400, height: 400, maxYawDeg: 90, yawDeg: 55 }));
  await writeFile(photo, await encodePng(image));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const graphics = ['--renderer', 'graphics', '--landmark-steps', '10', '--photometric-steps', '0', '--workers', '1'];

test('--landmark-map: the shipped map is followed on a turned face, none turns it off, a damaged file exits 6', async () => {
  const byDefault = await runCli(['reconstruct', photo, '--out', join(work, 'default'), ...graphics]);
  assert.equal(byDefault.code, 0, byDefault.stderr.slice(-600));
  assert.equal(JSON.parse(await readFile(join(work, 'default', 'turned.png.json'), 'utf8')).landmarkMap, true);

  const none = await runCli(['reconstruct', photo, '--out', join(work, 'none'), '--landmark-map', 'none', ...graphics]);
  assert.equal(none.code, 0, none.stderr.slice(-600));
  assert.equal(JSON.parse(await readFile(join(work, 'none', 'turned.png.json'), 'utf8')).landmarkMap, undefined);

  await writeFile(join(work, 'short.bin'), new Uint8Array(64));
  const damaged = await runCli(['reconstruct', photo, '--out', join(work, 'damaged'), '--landmark-map', join(work, 'short.bin'), ...graphics]);
  assert.equal(damaged.code, 6, damaged.stderr.slice(-600));
  assert.match(damaged.stderr, /landmark map .*short\.bin: 64 bytes, expected 764320 bytes/);
  assert.ok(!hasStackTrace(damaged.stderr));
});
