// `facegar reconstruct --landmark-regressor DIR|none` with a tiny random-weight regressor written
// here: the fit's landmark source in the JSON, a shipped models/landmarks-* found by default, and
// exit 6 for a damaged one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend.ts';
import { LandmarkRegressor } from '../../src/invert/landmark-regressor.ts';
import { encodeLandmarkRegressorCheckpoint } from '../../src/invert/landmark-regressor-checkpoint.ts';
import { hasStackTrace, runCli } from '../helpers/cli.ts';
import { sharedModel } from '../helpers/model.ts';
import { photosDir } from '../helpers/shared-data.ts';

let work: string, shipped: string, regressorDir: string;
before(async () => {
  await initBackend({ backend: 'wasm' });
  const model = await sharedModel();
  work = await mkdtemp(join(tmpdir(), 'facegar-landmarks-cli-'));
  shipped = join(work, 'models');
  regressorDir = join(shipped, 'landmarks-tiny');
  await mkdir(regressorDir, { recursive: true });
  const regressor = new LandmarkRegressor({ resolution: 16, channelBase: 64, channelMax: 8, hiddenFeatures: 8, landmarkCount: 68 }, 4);
  try {
    const { manifest, weights } = encodeLandmarkRegressorCheckpoint(regressor, model.landmarkVertexIndices, model, 'landmarks.safetensors', 2);
    await writeFile(join(regressorDir, 'landmarks.safetensors'), weights);
    await writeFile(join(regressorDir, 'checkpoint.json'), JSON.stringify({ ...manifest, weightsSha256: createHash('sha256').update(weights).digest('hex') }));
  } finally {
    regressor.dispose();
  }
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const graphics = ['--renderer', 'graphics', '--landmark-steps', '10', '--photometric-steps', '0', '--workers', '1'];

test('--landmark-regressor DIR fits its points (JSON landmarkSource, regressedLandmarks2d); a shipped one is the default; none = FaceMesh', async () => {
  const photo = join(photosDir, '000033.jpg');
  const given = await runCli(['reconstruct', photo, '--out', join(work, 'given'), '--landmark-regressor', regressorDir, ...graphics], {
    env: { FACEGAR_SHIPPED_MODELS_DIR: join(work, 'none') },
  });
  assert.equal(given.code, 0, given.stderr.slice(-600));
  assert.match(given.stdout + given.stderr, /landmarks: regressor .*landmarks-tiny/);
  const json = JSON.parse(await readFile(join(work, 'given', '000033.jpg.json'), 'utf8'));
  assert.equal(json.landmarkSource, 'regressor');
  assert.equal(json.regressedLandmarks2d.length, 68);
  assert.equal(json.detectedLandmarks2d.length, 68);

  const byDefault = await runCli(['reconstruct', photo, '--out', join(work, 'default'), ...graphics], { env: { FACEGAR_SHIPPED_MODELS_DIR: shipped } });
  assert.equal(byDefault.code, 0, byDefault.stderr.slice(-600));
  assert.equal(JSON.parse(await readFile(join(work, 'default', '000033.jpg.json'), 'utf8')).landmarkSource, 'regressor');

  const none = await runCli(['reconstruct', photo, '--out', join(work, 'none-out'), '--landmark-regressor', 'none', ...graphics], {
    env: { FACEGAR_SHIPPED_MODELS_DIR: shipped },
  });
  assert.equal(none.code, 0, none.stderr.slice(-600));
  const plain = JSON.parse(await readFile(join(work, 'none-out', '000033.jpg.json'), 'utf8'));
  assert.equal(plain.landmarkSource, 'facemesh');
  assert.equal(plain.regressedLandmarks2d, undefined);
});

test('a damaged or missing landmark regressor ends the command with one line and exit 6', async () => {
  const damaged = join(work, 'damaged');
  await mkdir(damaged);
  await writeFile(join(damaged, 'checkpoint.json'), await readFile(join(regressorDir, 'checkpoint.json')));
  const weights = await readFile(join(regressorDir, 'landmarks.safetensors'));
  weights[weights.length - 1] ^= 1;
  await writeFile(join(damaged, 'landmarks.safetensors'), weights);
  for (const dir of [damaged, join(work, 'missing')]) {
    const run = await runCli(['reconstruct', join(photosDir, '000033.jpg'), '--out', join(work, 'bad'), '--landmark-regressor', dir, ...graphics]);
    assert.equal(run.code, 6, run.stderr);
    assert.ok(!hasStackTrace(run.stderr));
    assert.match(run.stderr, /landmark regressor/);
  }
  const evaluation = await runCli(['eval', 'synthetic', '--n', '1', '--renderer', 'graphics', '--landmark-regressor', damaged]);
  assert.equal(evaluation.code, 6, evaluation.stderr);
  assert.match(evaluation.stderr, /landmark regressor weights do not match/);
});
