import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend.ts';
import { alignFaceCrop } from '../../src/detect/align-face-crop.ts';
import { applyAffine2D } from '../../src/common/image.ts';
import { garNetworkConfig } from '../../src/gar/gar-config.ts';
import { GeometrySampler } from '../../src/gar/geometry-sampler.ts';
import { GarTrainer } from '../../src/gar/train-gar.ts';
import { renderTrainingFace, syntheticRenderSizePx } from '../../src/gar/synthetic-faces.ts';
import { saveGarCheckpoint } from '../../src/io/node/checkpoint-files.ts';
import { writePngAtomic } from '../../src/io/node/encode-image.ts';
import { decodeImageFile } from '../../src/io/node/decode-image.ts';
import { hasStackTrace, runCli } from '../helpers/cli.ts';
import { sharedModel } from '../helpers/model.ts';

test('facegar eval gar: table or JSON with trained, initial and real rows, a grid PNG, typed errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facegar-eval-gar-'));
  try {
    await initBackend();
    const model = await sharedModel();
    // A held-back set of 8 studio crops at 32² (as prepare --synthetic writes it) and a step-0 tiny run.
    const data = join(dir, 'heldout'),
      runDir = join(dir, 'run');
    await mkdir(join(data, '32'), { recursive: true });
    const images = [];
    const crops = [];
    for (let i = 0; i < 8; i++) {
      const { image, truth } = renderTrainingFace(model, 9, i, syntheticRenderSizePx(32));
      const { crop, cropFromImage } = alignFaceCrop(image, truth.landmarks2d, 32);
      for (let k = 3; k < crop.data.length; k += 4) crop.data[k] = 255;
      const file = `32/${i}.png`;
      await writePngAtomic(join(data, file), crop);
      const landmarks68 = Array.from({ length: 68 }, (_, k) => applyAffine2D(cropFromImage, truth.landmarks2d[2 * k], truth.landmarks2d[2 * k + 1])).flat();
      images.push({ id: String(i), source: `test:${i}`, files: { 32: file }, landmarks68 });
      crops.push(crop);
    }
    await writeFile(join(data, 'dataset.json'), JSON.stringify({ format: 1, sizes: [32], images, skipped: [] }));
    const trainer = new GarTrainer({
      network: garNetworkConfig('tiny'),
      train: { batchSize: 2 },
      sampler: new GeometrySampler(model, { resolution: 32 }),
      realImages: crops,
    });
    await saveGarCheckpoint(runDir, trainer);
    trainer.dispose();

    const gridPath = join(dir, 'grid.png');
    const json = await runCli(['eval', 'gar', '--gar', runDir, '--data', data, '--n', '4', '--swaps', '1', '--json', '--out', gridPath]);
    assert.equal(json.code, 0, json.stderr.slice(-2000));
    const report = JSON.parse(json.stdout);
    assert.deepEqual(
      report.rows.map((r: { name: string }) => r.name),
      ['trained (step 0)', 'initial', 'real vs real'],
    );
    // At step 0 the EMA generator is the initial one: the same numbers.
    assert.equal(report.rows[0].quality.kid, report.rows[1].quality.kid);
    assert.ok(
      report.rows[2].quality.landmarks.nmeInner < report.rows[1].quality.landmarks.nmeInner,
      'FaceMesh agrees with real crops better than with an untrained G',
    );
    assert.equal(report.realCount, 8);
    const grid = await decodeImageFile(gridPath);
    assert.equal(grid.height, 5 * 32 + 6, '4 rows + the swap row');

    const missing = await runCli(['eval', 'gar', '--gar', join(dir, 'nowhere'), '--data', data]);
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /no GAR checkpoint/);
    assert.ok(!hasStackTrace(missing.stderr));
    const noData = await runCli(['eval', 'gar', '--gar', runDir]);
    assert.equal(noData.code, 2);
    assert.match(noData.stderr, /--data/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
