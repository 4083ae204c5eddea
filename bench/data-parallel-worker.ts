// One data-parallel worker: holds a backend and a replica of the model, returns the gradient
// of its shard's loss as one flat Float32Array, and applies weight updates it is sent.
import { parentPort } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '../src/engine/backend.ts';
import { adamStepFlat, createAdamState, type AdamState } from '../src/gar/adam.ts';
import type { FromDataParallelWorker, ToDataParallelWorker, TrainingBatch } from './data-parallel-messages.ts';
import type { DataParallelModel, DataParallelModelModule } from './data-parallel.ts';

const port = parentPort;
if (!port) throw new Error('data-parallel-worker must run in a worker thread');
const send = (message: FromDataParallelWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

let model: DataParallelModel | undefined;
let weights: Float32Array | undefined; // flat copy of model.variables, kept for the Adam updates
let adam: AdamState | undefined;

function readWeights(variables: tf.Variable[]): Float32Array {
  const flat = new Float32Array(variables.reduce((n, v) => n + v.size, 0));
  let offset = 0;
  for (const variable of variables) {
    flat.set(variable.dataSync() as Float32Array, offset);
    offset += variable.size;
  }
  return flat;
}

function assignWeights(variables: tf.Variable[], flat: Float32Array): void {
  let offset = 0;
  for (const variable of variables) {
    tf.tidy(() => variable.assign(tf.tensor(flat.subarray(offset, offset + variable.size), variable.shape, 'float32')));
    offset += variable.size;
  }
}

/** `weight` × d(loss)/d(variables), flattened in variable order. */
function gradients(current: DataParallelModel, batch: TrainingBatch, weight: number) {
  const started = performance.now();
  const flat = new Float32Array(current.variables.reduce((n, v) => n + v.size, 0));
  const loss = tf.tidy(() => {
    const inputs = Object.fromEntries(
      Object.entries(batch).map(([name, entry]) => [name, tf.tensor(entry.data, entry.shape, entry.data instanceof Int32Array ? 'int32' : 'float32')]),
    );
    const { value, grads } = tf.variableGrads(() => current.loss(inputs), current.variables);
    let offset = 0;
    for (const variable of current.variables) {
      const g = grads[variable.name];
      if (g !== undefined) {
        const values = g.dataSync() as Float32Array;
        for (let i = 0; i < values.length; i++) flat[offset + i] = values[i]! * weight;
      }
      offset += variable.size;
    }
    return value.dataSync()[0]!;
  });
  return { gradient: flat, loss, computeMs: performance.now() - started };
}

async function handle(message: ToDataParallelWorker): Promise<void> {
  if (message.type === 'init') {
    const backend = await initBackend(message.backend === undefined ? {} : { backend: message.backend as BackendName });
    const module = (await import(pathToFileURL(message.modulePath).href)) as Partial<DataParallelModelModule>;
    if (typeof module.createModel !== 'function') throw new Error(`${message.modulePath} does not export createModel`);
    model = await module.createModel(message.modelOptions);
    weights = readWeights(model.variables);
    adam = createAdamState(weights.length);
    send({ type: 'ready', parameterCount: weights.length, backend });
    return;
  }
  if (message.type === 'close') {
    model?.dispose?.();
    port!.close();
    return;
  }
  if (model === undefined || weights === undefined || adam === undefined) throw new Error('worker used before init');
  if (message.type === 'gradients') {
    const result = gradients(model, message.batch, message.weight);
    send({ type: 'gradients', ...result }, [result.gradient.buffer as ArrayBuffer]);
  } else if (message.type === 'setWeights') {
    weights = message.weights;
    assignWeights(model.variables, weights);
    send({ type: 'done' });
  } else if (message.type === 'adam') {
    adamStepFlat(weights, message.gradient, adam, message.config);
    assignWeights(model.variables, weights);
    send({ type: 'done' });
  } else if (message.type === 'getWeights') {
    const copy = weights.slice();
    send({ type: 'weights', weights: copy }, [copy.buffer]);
  }
}

// Messages are handled one at a time, in order, so a step never overlaps the previous update.
let queue = Promise.resolve();
port.on('message', (message: ToDataParallelWorker) => {
  queue = queue
    .then(() => handle(message))
    .catch((error: unknown) => {
      send({
        type: 'error',
        message: String((error as Error)?.message ?? error)
          .split('\n')[0]!
          .slice(0, 500),
      });
    });
});
