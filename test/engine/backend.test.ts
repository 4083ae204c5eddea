import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackend, initBackend } from '../../src/engine/backend.ts';
import { UsageError } from '../../src/common/errors.ts';

test('initBackend picks FACEGAR_BACKEND or, in Node without tfjs-node, wasm', async () => {
  const expected = process.env.FACEGAR_BACKEND ?? 'wasm';
  assert.equal(await initBackend(), expected);
  assert.equal(tf.getBackend(), expected);
  assert.equal(await initBackend(), expected, 'later calls return the first choice');
});

test('an unknown backend name is a usage error naming the option', async () => {
  await assert.rejects(
    initBackend({ backend: 'cuda' as never }),
    (error: unknown) => error instanceof UsageError && /backend/.test(error.message) && /cuda/.test(error.message),
  );
});

test('tensorflow (tfjs-node, not installed) fails with a usage error when named', async () => {
  await assert.rejects(initBackend({ backend: 'tensorflow' }), UsageError);
});

test('naming another backend switches to it; describeBackend reports it', async () => {
  assert.equal(await initBackend({ backend: 'cpu' }), 'cpu');
  assert.deepEqual({ ...describeBackend(), gradientsAdded: [] }, { name: 'cpu', threads: 1, kernelsAdded: [], gradientsAdded: [] });
  assert.equal(await initBackend({ backend: 'wasm' }), 'wasm');
  const wasm = describeBackend();
  assert.equal(wasm.name, 'wasm');
  assert.equal(wasm.threads, 1);
  assert.equal(typeof wasm.simd, 'boolean');
  assert.equal(wasm.engineKernels, 'in-place');
  assert.ok(wasm.kernelsAdded.includes('Conv2DBackpropFilter'));
});
