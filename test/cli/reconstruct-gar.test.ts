// `facegar reconstruct --renderer gar`: the GAR path end to end with tiny random-weight networks
// written here (no trained model needed), its outputs, and exit 6 for a missing or corrupt GAR.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../../src/engine/backend.ts';
import { createHash } from 'node:crypto';
import { chooseRenderer, readGarModelFiles, readIdentityRegressorFiles } from '../../src/io/node/gar-models.ts';
import { ModelUnavailableError, UsageError } from '../../src/common/errors.ts';
import { hasStackTrace, runCli } from '../helpers/cli.ts';
import { sharedModel } from '../helpers/model.ts';
import { photosDir } from '../helpers/shared-data.ts';
import { writeTinyGarModels } from './reconstruct-gar-fixtures.ts';

let work: string;
let garDir: string, encoderDir: string, shipped: string, empty: string;
before(async () => {
  await initBackend({ backend: 'wasm' });
  work = await mkdtemp(join(tmpdir(), 'facegar-gar-cli-'));
  shipped = join(work, 'models');
  garDir = join(shipped, 'gar-small');
  encoderDir = join(shipped, 'encoder-small');
  empty = join(work, 'no-models');
  await mkdir(empty);
  await writeTinyGarModels(await sharedModel(), garDir, encoderDir);
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const distance = (a: number[], b: number[]) => Math.hypot(a[0] - b[0], a[1] - b[1]);

describe('facegar reconstruct, GAR path (tiny random GAR + encoder)', () => {
  test('--gar --encoder --preset fast writes every output; the JSON has the GAR fields, stage timings and image-pixel landmarks', async () => {
    const out = join(work, 'out');
    const run = await runCli([
      'reconstruct',
      join(photosDir, '000002.jpg'),
      '--gar',
      garDir,
      '--encoder',
      encoderDir,
      '--preset',
      'fast',
      '--format',
      'obj,ply,glb',
      '--out',
      out,
      '--workers',
      '1',
    ]);
    assert.equal(run.code, 0, run.stderr.slice(-600));
    assert.ok(!hasStackTrace(run.stderr));
    assert.match(run.stderr, /renderer: GAR .*preset fast/);
    assert.match(run.stderr, /identity regressor /, 'the renderer line names the identity regressor');
    for (const name of [
      '000002.jpg.obj',
      '000002.jpg.ply',
      '000002.jpg.glb',
      '000002.jpg.json',
      '000002.jpg.overlay.png',
      '000002.jpg.gar.png',
      'summary.jsonl',
    ]) {
      assert.ok((await stat(join(out, name))).size > 0, `${name} written`);
    }
    const json = JSON.parse(await readFile(join(out, '000002.jpg.json'), 'utf8'));
    assert.equal(json.renderer, 'gar');
    assert.deepEqual(
      {
        preset: json.gar.preset,
        start: json.gar.start,
        steps: json.gar.steps,
        shadingSteps: json.gar.shadingSteps,
        settleSteps: json.gar.settleSteps,
        identityRegressor: json.gar.identityRegressor,
        cropSizePx: json.gar.cropSizePx,
      },
      // The shipped shape encoder and identity regressor join any GAR + encoder by default; `fast` has no shading stage.
      { preset: 'fast', start: 'encoder', steps: 20, shadingSteps: 0, settleSteps: 0, identityRegressor: true, cropSizePx: 32 },
    );
    assert.equal(json.gar.w.length, 128);
    for (const key of ['total', 'pixel', 'landmarkAndPriors', 'latentPrior']) assert.ok(Number.isFinite(json.finalLoss[key]), `finalLoss.${key}`);
    assert.ok(json.finalLoss.pixel > 0 && json.finalLoss.landmarkAndPriors > 0);
    assert.ok(json.gar.lossHistory.last < json.gar.lossHistory.first, 'refinement lowered the loss');
    for (const key of ['decode', 'detect', 'fit', 'align', 'encode', 'landmarks', 'refine', 'write', 'total'])
      assert.ok(json.timingsMs[key] >= 0, `timingsMs.${key}`);
    assert.deepEqual(json.outputs, {
      obj: '000002.jpg.obj',
      ply: '000002.jpg.ply',
      glb: '000002.jpg.glb',
      gar: '000002.jpg.gar.png',
      overlay: '000002.jpg.overlay.png',
    });
    assert.equal(json.light, undefined, 'no SH light on the GAR path');
    // Landmarks in original-image pixels, near the detector's; the error field agrees with them.
    assert.equal(json.landmarks2d.length, 68);
    const errors = json.landmarks2d.map((p: number[], k: number) => distance(p, json.detectedLandmarks2d[k]));
    const meanError = errors.reduce((a: number, b: number) => a + b, 0) / 68;
    assert.ok(Math.abs(meanError - json.landmarkErrorPx) < 0.05, `${meanError} vs ${json.landmarkErrorPx}`);
    assert.ok(json.landmarkErrorPx < 0.2 * json.interOcularPx, `landmark error ${json.landmarkErrorPx} px, inter-ocular ${json.interOcularPx} px`);
    assert.equal(json.pose.principalPointPx[0], json.imageSize.width / 2);
    assert.ok(json.pose.focalPx > 100 && json.pose.translationMm[2] < -100, 'camera in photo pixels, face in front of it');
    const gar = await sharp(join(out, '000002.jpg.gar.png')).metadata();
    assert.deepEqual([gar.width, gar.height], [2 * 256 + 8, 256], 'crop | render, 8× enlarged');
    const summary = JSON.parse((await readFile(join(out, 'summary.jsonl'), 'utf8')).trim());
    assert.equal(summary.status, 'ok');
    assert.ok(summary.outputs.includes('000002.jpg.gar.png') && summary.timingsMs.refine >= 0);
  });

  test('--renderer gar finds the shipped GAR + encoder; --preset instant runs the encoder alone', async () => {
    const out = join(work, 'out-shipped');
    const run = await runCli(
      ['reconstruct', join(photosDir, '000006.jpg'), '--renderer', 'gar', '--preset', 'instant', '--out', out, '--workers', '1', '--json'],
      { env: { FACEGAR_SHIPPED_MODELS_DIR: shipped } },
    );
    assert.equal(run.code, 0, run.stderr.slice(-600));
    const json = JSON.parse(await readFile(join(out, '000006.jpg.json'), 'utf8'));
    assert.deepEqual([json.renderer, json.gar.preset, json.gar.steps, json.gar.start], ['gar', 'instant', 0, 'encoder']);
    assert.equal(json.gar.lossHistory.values, 1);
  });

  test('--gar studio runs the shipped GAR by name from any folder; --gar real says it is not shipped (exit 6)', async () => {
    const env = { FACEGAR_SHIPPED_MODELS_DIR: shipped };
    const named = await runCli(
      ['reconstruct', join(photosDir, '000006.jpg'), '--gar', 'studio', '--preset', 'instant', '--out', join(work, 'o-named'), '--workers', '1', '-q'],
      { env },
    );
    assert.equal(named.code, 0, named.stderr.slice(-600));
    assert.equal(JSON.parse(await readFile(join(work, 'o-named', '000006.jpg.json'), 'utf8')).renderer, 'gar');
    const missing = await runCli(['reconstruct', join(photosDir, '000006.jpg'), '--gar', 'real', '--out', join(work, 'o-real'), '--workers', '1'], { env });
    assert.equal(missing.code, 6, missing.stderr);
    assert.match(missing.stderr, /--gar real: .*not shipped here/);
    assert.ok(!hasStackTrace(missing.stderr));
  });

  test('with no option the shipped GAR runs; graphics-only options choose the graphics path, and clash with a named GAR path', async () => {
    const photo = join(photosDir, '000006.jpg');
    const env = { FACEGAR_SHIPPED_MODELS_DIR: shipped };
    const byDefault = await runCli(['reconstruct', photo, '--preset', 'instant', '--out', join(work, 'o-default'), '--workers', '1', '--json'], { env });
    assert.equal(byDefault.code, 0, byDefault.stderr.slice(-600));
    assert.equal(JSON.parse(await readFile(join(work, 'o-default', '000006.jpg.json'), 'utf8')).renderer, 'gar');
    const graphics = await runCli(
      ['reconstruct', photo, '--landmark-steps', '30', '--photometric-steps', '0', '--out', join(work, 'o-graphics'), '--workers', '1', '--json'],
      { env },
    );
    assert.equal(graphics.code, 0, graphics.stderr.slice(-600));
    assert.equal(JSON.parse(await readFile(join(work, 'o-graphics', '000006.jpg.json'), 'utf8')).renderer, 'graphics');
    const clashes = [
      await runCli(['reconstruct', photo, '--photometric-steps', '0', '--renderer', 'gar', '--out', join(work, 'o-clash1')], { env }),
      await runCli(['reconstruct', photo, '--render-size', '64', '--gar', garDir, '--out', join(work, 'o-clash2')], { env }),
      await runCli(['reconstruct', photo, '--landmark-steps', '30', '--preset', 'fast', '--out', join(work, 'o-clash3')], { env }),
    ];
    for (const run of clashes) {
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /belongs to the graphics path/);
      assert.ok(!hasStackTrace(run.stderr));
    }
  });

  test('a missing or corrupt GAR, or --renderer gar without any GAR, exits 6 with one line', async () => {
    const photo = join(photosDir, '000002.jpg');
    const missing = await runCli(['reconstruct', photo, '--gar', join(work, 'nowhere'), '--out', join(work, 'o1')]);
    assert.equal(missing.code, 6, missing.stderr);
    assert.match(missing.stderr, /no GAR checkpoint/);
    const corrupt = join(work, 'corrupt');
    await mkdir(corrupt);
    await copyFile(join(garDir, 'checkpoint.json'), join(corrupt, 'checkpoint.json'));
    await writeFile(join(corrupt, 'gar.safetensors'), 'not a safetensors file');
    const bad = await runCli(['reconstruct', photo, '--gar', corrupt, '--encoder', encoderDir, '--out', join(work, 'o2')]);
    assert.equal(bad.code, 6, bad.stderr);
    assert.match(bad.stderr, /cannot load the GAR/);
    const none = await runCli(['reconstruct', photo, '--renderer', 'gar', '--out', join(work, 'o3')], { env: { FACEGAR_SHIPPED_MODELS_DIR: empty } });
    assert.equal(none.code, 6, none.stderr);
    assert.match(none.stderr, /no GAR found/);
    for (const run of [missing, bad, none]) {
      assert.ok(!hasStackTrace(run.stderr));
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    }
  });
});

describe('renderer choice (models lookup)', () => {
  test('the default renderer decides only when both shipped networks exist; explicit options win', async () => {
    assert.equal((await chooseRenderer({ modelsDir: shipped, defaultRenderer: 'gar' })).renderer, 'gar');
    assert.equal((await chooseRenderer({ modelsDir: shipped, defaultRenderer: 'gar' })).encoderDir, encoderDir);
    assert.equal((await chooseRenderer({ modelsDir: shipped, defaultRenderer: 'graphics' })).renderer, 'graphics');
    assert.equal((await chooseRenderer({ modelsDir: empty, defaultRenderer: 'gar' })).renderer, 'graphics', 'no shipped GAR: the baseline');
    assert.equal((await chooseRenderer({ modelsDir: shipped, renderer: 'graphics', defaultRenderer: 'gar' })).renderer, 'graphics');
    const explicit = await chooseRenderer({ modelsDir: empty, gar: garDir });
    assert.deepEqual([explicit.renderer, explicit.garDir, explicit.encoderDir], ['gar', garDir, undefined]);
    assert.equal((await chooseRenderer({ modelsDir: shipped, encoder: encoderDir })).garDir, garDir, '--encoder alone takes the shipped GAR');
    await assert.rejects(chooseRenderer({ modelsDir: empty, renderer: 'gar' }), ModelUnavailableError);
    await assert.rejects(chooseRenderer({ modelsDir: empty, encoder: encoderDir }), ModelUnavailableError);
    await assert.rejects(chooseRenderer({ renderer: 'graphics', gar: garDir }), UsageError);
    await assert.rejects(chooseRenderer({ renderer: 'neural' }), UsageError);
  });

  test('--gar studio|real picks a shipped GAR by name, with the shipped encoder; a missing one is exit 6', async () => {
    const studio = await chooseRenderer({ modelsDir: shipped, gar: 'studio' });
    assert.deepEqual([studio.renderer, studio.garDir, studio.encoderDir], ['gar', garDir, encoderDir]);
    await assert.rejects(
      chooseRenderer({ modelsDir: shipped, gar: 'real' }),
      (error: Error) => error instanceof ModelUnavailableError && /--gar real: .*gar-real-64 is not shipped/.test(error.message),
    );
    const realDir = join(shipped, 'gar-real-64');
    await cp(garDir, realDir, { recursive: true });
    try {
      const real = await chooseRenderer({ modelsDir: shipped, gar: 'real' });
      assert.deepEqual([real.garDir, real.encoderDir], [realDir, encoderDir]);
      assert.match(real.reason, /non-commercial/);
      assert.equal((await chooseRenderer({ modelsDir: shipped, defaultRenderer: 'gar' })).garDir, garDir, 'the studio GAR stays the default beside it');
    } finally {
      await rm(realDir, { recursive: true, force: true });
    }
  });
});

test('the shipped identity regressor: by default on the graphics path and beside a shape encoder; none and explicit folders as asked; its file is checked on reading', async () => {
  const shapeDir = join(shipped, 'shape-encoder-128');
  const regressorDir = join(shipped, 'identity-regressor');
  await cp(encoderDir, shapeDir, { recursive: true });
  await mkdir(regressorDir);
  try {
    const withoutFile = await chooseRenderer({ modelsDir: shipped, defaultRenderer: 'gar' });
    assert.deepEqual([withoutFile.shapeEncoderDir, withoutFile.identityRegressorDir], [shapeDir, undefined], 'a folder without its file is not a regressor');
    const bytes = new Uint8Array([1, 2, 3, 4]);
    await writeFile(join(regressorDir, 'identity-regressor.bin'), bytes);
    const chosen = await chooseRenderer({ modelsDir: shipped, defaultRenderer: 'gar', offline: true }); // FaceRes is installed here (a development dependency)
    assert.equal(chosen.identityRegressorDir, regressorDir);
    assert.match(chosen.reason, /identity regressor/);
    assert.equal((await chooseRenderer({ modelsDir: shipped, defaultRenderer: 'gar', identityRegressor: 'none' })).identityRegressorDir, undefined);
    assert.equal(
      (await chooseRenderer({ modelsDir: shipped, defaultRenderer: 'gar', shapeEncoder: 'none' })).identityRegressorDir,
      undefined,
      'on the GAR path, by default only beside a shape encoder',
    );
    const graphics = await chooseRenderer({ modelsDir: shipped, renderer: 'graphics', offline: true });
    assert.deepEqual([graphics.renderer, graphics.identityRegressorDir], ['graphics', regressorDir], 'the graphics path takes it by default');
    assert.equal((await chooseRenderer({ modelsDir: shipped, renderer: 'graphics', identityRegressor: 'none' })).identityRegressorDir, undefined);
    const elsewhere = join(work, 'elsewhere');
    assert.equal((await chooseRenderer({ modelsDir: shipped, renderer: 'graphics', identityRegressor: elsewhere })).identityRegressorDir, elsewhere);
    const files = await readIdentityRegressorFiles(chosen.identityRegressorDir!);
    assert.deepEqual(Array.from(files.weights), [1, 2, 3, 4]);
    assert.equal(files.source, join(regressorDir, 'identity-regressor.bin'));
    assert.ok(JSON.stringify(files.embedding.json).includes('global_pooling'), 'FaceRes comes along');
    await writeFile(join(regressorDir, 'manifest.json'), JSON.stringify({ sha256: '0'.repeat(64) }));
    await assert.rejects(readIdentityRegressorFiles(regressorDir), (error: Error) => error instanceof ModelUnavailableError && /SHA-256/.test(error.message));
    await writeFile(join(regressorDir, 'manifest.json'), '{"sha256": ');
    await assert.rejects(
      readIdentityRegressorFiles(regressorDir),
      (error: Error) => error instanceof ModelUnavailableError && /manifest.json: not valid JSON/.test(error.message),
    );
    await assert.rejects(readIdentityRegressorFiles(join(work, 'nowhere')), ModelUnavailableError);
  } finally {
    await rm(shapeDir, { recursive: true, force: true });
    await rm(regressorDir, { recursive: true, force: true });
  }
});

test("readGarModelFiles checks the weights against the manifest's SHA-256 when it has one", async () => {
  const dir = join(work, 'checksummed');
  await mkdir(dir);
  const weights = await readFile(join(garDir, 'gar.safetensors'));
  await writeFile(join(dir, 'gar.safetensors'), weights);
  const manifest = JSON.parse(await readFile(join(garDir, 'checkpoint.json'), 'utf8'));
  await writeFile(join(dir, 'checkpoint.json'), JSON.stringify({ ...manifest, weightsSha256: createHash('sha256').update(weights).digest('hex') }));
  assert.equal((await readGarModelFiles({ garDir: dir })).gar.weights.length, weights.length);
  await writeFile(join(dir, 'checkpoint.json'), JSON.stringify({ ...manifest, weightsSha256: '0'.repeat(64) }));
  await assert.rejects(readGarModelFiles({ garDir: dir }), (error: Error) => error instanceof ModelUnavailableError && /SHA-256/.test(error.message));
  await assert.rejects(readGarModelFiles({ garDir: garDir, encoderDir: join(work, 'nowhere') }), ModelUnavailableError);
});
