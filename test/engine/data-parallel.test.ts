import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../src/common/errors.ts';
import {
  createDataParallelTrainer,
  splitBatch,
  validateDataParallelConfig,
  DEFAULT_DATA_PARALLEL_CONFIG,
  type DataParallelTrainer,
  type TrainingBatch,
} from '../../bench/data-parallel.ts';
import { randomValues, relativeError } from './helpers.ts';

const modulePath = fileURLToPath(new URL('./data-parallel-model.ts', import.meta.url));

function makeBatch(size: number, seed: number): TrainingBatch {
  return {
    x: { data: randomValues(size * 8 * 8 * 2, seed), shape: [size, 8, 8, 2] },
    target: { data: randomValues(size * 4 * 4 * 3, seed + 1), shape: [size, 4, 4, 3] },
  };
}

describe('data-parallel training in worker threads', () => {
  let one: DataParallelTrainer, two: DataParallelTrainer, twoMain: DataParallelTrainer;
  before(async () => {
    [one, two, twoMain] = await Promise.all([
      createDataParallelTrainer({ modulePath, workers: 1 }),
      createDataParallelTrainer({ modulePath, workers: 2, update: 'workers' }),
      createDataParallelTrainer({ modulePath, workers: 2, update: 'main' }),
    ]);
  });
  after(async () => {
    await Promise.all([one, two, twoMain].map((t) => t?.close()));
  });

  test('2-worker gradient equals the 1-worker gradient on the same batch (uneven split 3 = 2 + 1)', async () => {
    assert.equal(two.parameterCount, 3 * 3 * 2 * 4 + 4 + 3 * 3 * 4 * 3);
    const single = await one.gradients(makeBatch(3, 5));
    const split = await two.gradients(makeBatch(3, 5));
    assert.equal(split.gradient.length, one.parameterCount);
    assert.ok(
      single.gradient.some((g) => Math.abs(g) > 1e-3),
      'gradient is not trivially zero',
    );
    const error = relativeError(split.gradient, single.gradient);
    assert.ok(error < 1e-5, `relative error ${error}`);
    assert.ok(Math.abs(split.loss - single.loss) < 1e-5 * Math.abs(single.loss), `loss ${split.loss} vs ${single.loss}`);
  });

  test('training steps lower the loss; Adam in the workers and on the main thread give the same weights', async () => {
    const batch = () => makeBatch(4, 9);
    const losses: number[] = [];
    for (let i = 0; i < 5; i++) {
      losses.push((await two.step(batch())).loss);
      await twoMain.step(batch());
    }
    assert.ok(losses[4]! < losses[0]!, `loss ${losses.join(' → ')}`);
    const [a, b] = await Promise.all([two.weights(), twoMain.weights()]);
    assert.ok(relativeError(a, b) < 1e-6, `weights differ: ${relativeError(a, b)}`);
  });

  test('splitBatch shares samples evenly and keeps their order', () => {
    const shards = splitBatch({ v: { data: Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), shape: [5, 2] } }, 2);
    assert.deepEqual(
      shards.map((s) => s.size),
      [3, 2],
    );
    assert.deepEqual([...shards[1]!.batch.v!.data], [6, 7, 8, 9]);
    assert.deepEqual(shards[1]!.batch.v!.shape, [2, 2]);
    assert.throws(() => splitBatch(makeBatch(1, 1), 2), UsageError);
  });

  test('bad configuration is a usage error', () => {
    assert.throws(() => validateDataParallelConfig({ ...DEFAULT_DATA_PARALLEL_CONFIG, modulePath, workers: 0 }), UsageError);
    assert.throws(
      () => validateDataParallelConfig({ ...DEFAULT_DATA_PARALLEL_CONFIG, modulePath, adam: { ...DEFAULT_DATA_PARALLEL_CONFIG.adam, learningRate: -1 } }),
      UsageError,
    );
  });

  test('a module without createModel fails with a clear error and no worker left running', async () => {
    await assert.rejects(
      createDataParallelTrainer({ modulePath: fileURLToPath(new URL('./helpers.ts', import.meta.url)), workers: 1 }),
      /does not export createModel/,
    );
  });
});
