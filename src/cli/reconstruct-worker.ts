import { parentPort } from 'node:worker_threads';
import { createProcessContext, processInput, type BatchSettings, type InputJob, type ProcessContext } from './process-input.ts';

/** Messages between the batch's main thread and a worker (one per core). */
export type ToWorker = { type: 'init'; settings: BatchSettings } | { type: 'job'; job: InputJob } | { type: 'stop' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; index: number; fraction: number; stage: string }
  | { type: 'result'; index: number; result: import('./process-input.ts').InputResult }
  | { type: 'fatal'; message: string; exitCode: number };

const port = parentPort;
if (!port) throw new Error('reconstruct-worker must run in a worker thread');
let context: ProcessContext | undefined;
const send = (message: FromWorker) => port.postMessage(message);

port.on('message', async (message: ToWorker) => {
  try {
    if (message.type === 'init') {
      context = await createProcessContext(message.settings);
      send({ type: 'ready' });
    } else if (message.type === 'job' && context) {
      const { job } = message;
      const result = await processInput(job, context, (fraction, stage) => send({ type: 'progress', index: job.index, fraction, stage }));
      send({ type: 'result', index: job.index, result });
    } else if (message.type === 'stop') {
      context?.reconstructor.dispose();
      port.close();
    }
  } catch (error) {
    const exitCode = (error as { exitCode?: number }).exitCode ?? 1;
    send({ type: 'fatal', message: (error as Error).message?.split('\n')[0] ?? String(error), exitCode });
  }
});
