// Identity and same-dtype Cast share their input's memory on wasm: every tensor on that
// memory must read the right values until the last one is disposed, in any disposal order,
// and the memory must be freed then (no leak).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { GAR_PRESETS } from '../../src/gar/gar-config.ts';
import { Generator } from '../../src/gar/generator.ts';
import { randomTensor, randomValues, wasmVsCpu } from './helpers.ts';

before(async () => {
  await initBackend({ backend: 'wasm' });
});

/** All orderings of [0, …, n). */
function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

/** Allocate and fill tensors of `size` values so freed heap memory would be reused and overwritten. */
function churnHeap(size: number): void {
  const fillers = Array.from({ length: 4 }, (_, i) => tf.fill([size], -1000 - i));
  tf.dispose(fillers.map((t) => tf.add(t, 1)));
  tf.dispose(fillers);
}

describe('Identity and Cast share memory on wasm', () => {
  const values = randomValues(4096, 31);

  test('a clone and a same-dtype cast share data (no new buffer) and read the input values', () => {
    const x = tf.tensor(values, [64, 64]);
    const buffersBefore = tf.memory().numDataBuffers;
    const clone = tf.clone(x);
    const cast = tf.cast(x, 'float32');
    assert.equal(tf.memory().numDataBuffers, buffersBefore, 'identity/cast allocated a new buffer');
    assert.deepEqual(clone.dataSync(), values);
    assert.deepEqual(cast.dataSync(), values);
    tf.dispose([x, clone, cast]);
  });

  for (const order of permutations(4)) {
    test(`x, clone, clone of clone, cast disposed in order ${order.join(',')}: survivors keep their values`, () => {
      const memoryBefore = tf.memory();
      const x = tf.tensor(values, [64, 64]);
      const clone = tf.clone(x);
      const tensors = [x, clone, tf.clone(clone), tf.cast(clone, 'float32')];
      for (let k = 0; k < order.length; k++) {
        tensors[order[k]!]!.dispose();
        churnHeap(values.length);
        for (const index of order.slice(k + 1)) {
          assert.deepEqual(tensors[index]!.dataSync(), values, `tensor ${index} after disposing ${order.slice(0, k + 1)}`);
        }
      }
      const memoryAfter = tf.memory();
      assert.equal(memoryAfter.numTensors, memoryBefore.numTensors);
      assert.equal(memoryAfter.numDataBuffers, memoryBefore.numDataBuffers, 'shared memory was not freed');
      assert.equal(memoryAfter.numBytes, memoryBefore.numBytes);
    });
  }

  test('a clone made inside tf.tidy outlives the tidy and its input', () => {
    const before = tf.memory().numTensors;
    const x = tf.tensor(values, [4096]);
    const kept = tf.tidy(() => tf.clone(tf.clone(tf.mul(tf.clone(x), 1))));
    x.dispose();
    churnHeap(values.length);
    assert.deepEqual(kept.dataSync(), values);
    kept.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  test('a clone of a variable keeps the old values after assign and after the variable is disposed', () => {
    const v = tf.variable(tf.tensor(values, [4096]));
    const snapshot = tf.clone(v);
    v.assign(tf.zeros([4096]));
    assert.deepEqual(snapshot.dataSync(), values);
    assert.equal(v.dataSync()[7], 0);
    v.dispose();
    churnHeap(values.length);
    assert.deepEqual(snapshot.dataSync(), values);
    snapshot.dispose();
  });

  test('casts that convert still convert (int32 ↔ float32, bool), as on cpu', async () => {
    const error = await wasmVsCpu(() => {
      const x = tf.mul(randomTensor([5, 7], 32), 10);
      const asInt = tf.cast(x, 'int32');
      return [tf.cast(asInt, 'float32'), tf.cast(tf.cast(asInt, 'int32'), 'float32'), tf.cast(tf.cast(tf.greater(x, 0), 'bool'), 'float32')];
    });
    assert.equal(error, 0);
    const ints = tf.tensor1d([3, -4, 5], 'int32');
    const same = tf.cast(ints, 'int32');
    assert.equal(same.dtype, 'int32');
    ints.dispose();
    assert.deepEqual([...same.dataSync()], [3, -4, 5]);
    same.dispose();
  });

  test('string identity still copies (strings live outside the heap)', () => {
    const s = tf.tensor1d(['a', 'bc']);
    const clone = tf.clone(s);
    s.dispose();
    assert.deepEqual(clone.dataSync(), ['a', 'bc']);
    clone.dispose();
  });
});

describe('a GAR generator forward+backward with shared Identity/Cast', () => {
  test('matches the cpu backend and leaks no tensor', async () => {
    const config = { ...GAR_PRESETS.tiny, resolution: 8 };
    const compute = () => {
      const generator = new Generator(config, 5);
      const normals = tf.variable(randomTensor([2, 8, 8, 3], 41)) as tf.Variable<tf.Rank.R4>;
      const z = tf.variable(randomTensor([2, config.zDim], 42)) as tf.Variable<tf.Rank.R2>;
      const target = randomTensor([2, 8, 8, 3], 43);
      const variables = [normals, z, ...generator.trainableVariables()];
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(generator.generate(normals, z), target))) as tf.Scalar, variables);
      generator.dispose();
      tf.dispose([normals, z]);
      // Variables that do not reach the loss (noise strengths, with noise off) have no gradient.
      return [value, ...variables.flatMap((v) => (grads[v.name] === undefined ? [] : [grads[v.name]!]))];
    };
    const before = tf.memory().numTensors;
    const error = await wasmVsCpu(compute);
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.ok(error < 1e-4, `relative error ${error}`);
  });
});
