// The PyTorch port of the GAR (scripts/gpu/*.py) against TF.js: parity on fixtures, and a 2-step
// training whose export TF.js loads and renders as torch does, resumed bit-exactly. Needs python3
// with torch (Debian: apt-get install python3-torch python3-numpy python3-pil; FACEGAR_TORCH_PYTHON
// names another interpreter); skipped, saying so, where there is none.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRgbaImage } from '../../src/common/image.ts';
import { decodeSafetensors } from '../../src/gar/safetensors.ts';
import { SeededRandom } from '../../src/common/seeded-random.ts';
import { runProcess, runScript, writePreparedDataset } from '../helpers/scripts.ts';

const python = process.env.FACEGAR_TORCH_PYTHON ?? '/usr/bin/python3';
const hasTorch = spawnSync(python, ['-c', 'import torch, numpy, PIL'], { stdio: 'ignore' }).status === 0;
const skip = hasTorch ? false : `no torch for ${python} (apt-get install python3-torch python3-numpy python3-pil)`;

// One parity fixture (TF.js weights, inputs, outputs) for both tests.
let fixtures = '';
before(async () => {
  if (!hasTorch) return;
  fixtures = await mkdtemp(join(tmpdir(), 'facegar-torch-parity-'));
  const made = await runScript('scripts/gpu/export-gar-parity.ts', ['--preset', 'small', '--out', fixtures]);
  assert.equal(made.code, 0, made.stderr);
});
after(async () => {
  if (fixtures) await rm(fixtures, { recursive: true, force: true });
});

test('torch GAR = TF.js GAR: generator, discriminator, normal estimator within 1e-3', { skip }, async () => {
  const checked = await runProcess(python, ['scripts/gpu/test_gar_parity.py', join(fixtures, 'parity-small.safetensors'), '--device', 'cpu']);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  assert.match(checked.stdout, /G_ship image .* ok/);
  assert.match(checked.stdout, /D logits .* ok/);
  assert.match(checked.stdout, /normal estimator .* ok/);
  assert.match(checked.stdout, /parity: ok/);
});

test('torch training: 2 steps export a GAR TF.js renders alike; 1 + 1 resumed steps equal 2 straight', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-torch-train-'));
  try {
    // A tiny prepared dataset (8 crops at 64²) and a pool of 8 normal maps.
    const data = join(dir, 'ds');
    const random = new SeededRandom(2);
    await writePreparedDataset(
      data,
      Array.from({ length: 8 }, () => {
        const crop = createRgbaImage(64, 64);
        for (let p = 0; p < crop.data.length; p += 4) crop.data.set([random.integer(256), random.integer(256), random.integer(256), 255], p);
        return crop;
      }),
    );
    for (const [script, args] of [
      ['scripts/gpu/pack-crops.ts', ['--data', data, '--out', join(dir, 'crops-64')]],
      ['scripts/gpu/export-normal-maps.ts', ['--out', join(dir, 'maps-64'), '--count', '8']],
    ] as const) {
      const run = await runScript(script, [...args]);
      assert.equal(run.code, 0, `${script}: ${run.stderr}`);
    }
    const train = (out: string, steps: number, extra: string[] = []) =>
      runProcess(python, [
        'scripts/gpu/train_gar.py',
        '--crops',
        join(dir, 'crops-64'),
        '--normal-maps',
        join(dir, 'maps-64'),
        '--out',
        out,
        '--batch',
        '4',
        '--steps',
        String(steps),
        '--r1-interval',
        '2',
        '--log-every',
        '1',
        '--device',
        'cpu',
        ...extra,
      ]);
    const straight = await train(join(dir, 'a'), 2, ['--export', join(dir, 'gar')]);
    assert.equal(straight.code, 0, straight.stdout + straight.stderr);
    assert.match(straight.stdout, /step 2 .*r1 /, 'R1 ran on step 2');

    // The export loads the way `facegar sample --gar` loads it, and renders as torch does.
    const render = join(dir, 'torch-render.safetensors');
    const rendered = await runProcess(python, [
      'scripts/gpu/test_gar_parity.py',
      join(fixtures, 'parity-small.safetensors'),
      '--render-export',
      join(dir, 'gar'),
      '--to',
      render,
      '--device',
      'cpu',
    ]);
    assert.equal(rendered.code, 0, rendered.stdout + rendered.stderr);
    const compared = await runScript('scripts/gpu/export-gar-parity.ts', ['--check-export', join(dir, 'gar'), '--torch-render', render]);
    assert.equal(compared.code, 0, compared.stdout + compared.stderr);
    assert.match(compared.stdout, /max \|Δ\| .* \(ok/);

    const first = await train(join(dir, 'b'), 1);
    assert.equal(first.code, 0, first.stderr);
    const refused = await train(join(dir, 'b'), 2);
    assert.notEqual(refused.code, 0, 'an existing checkpoint needs --resume');
    const resumed = await train(join(dir, 'b'), 2, ['--resume']);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    const weights = async (run: string) => {
      const manifest = JSON.parse(await readFile(join(dir, run, 'checkpoint.json'), 'utf8'));
      return { manifest, tensors: decodeSafetensors(new Uint8Array(await readFile(join(dir, run, manifest.weightsPath)))).tensors };
    };
    const [a, b] = [await weights('a'), await weights('b')];
    assert.equal(b.manifest.step, 2);
    assert.deepEqual(b.manifest.adamSteps, a.manifest.adamSteps);
    assert.deepEqual([...b.tensors.keys()].sort(), [...a.tensors.keys()].sort());
    assert.ok(
      [...a.tensors.keys()].some((k) => k.startsWith('opt_D.')),
      'Adam moments are saved',
    );
    for (const [name, t] of a.tensors) assert.deepEqual(b.tensors.get(name)!.values, t.values, `${name} after resuming`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
