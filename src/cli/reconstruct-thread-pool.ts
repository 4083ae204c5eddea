// Worker threads that reconstruct one input at a time (reconstruct-worker.ts), for the queue
// worker: the reconstruction runs off the main thread, whose event loop stays free to renew
// the jobs' locks in Redis however long a fit takes.
import { Worker } from 'node:worker_threads';
import { EXIT_CODES } from '../common/errors.ts';
import type { BatchSettings, InputJob, InputResult } from './process-input.ts';
import type { FromWorker, ToWorker } from './reconstruct-worker.ts';
import { reconstructWorkerEntry } from './worker-entry-url.ts';

interface PoolThread {
  worker: Worker;
  settingsKey: string;
  ready: Promise<void>;
  busy: boolean;
  /** Settles the job in flight when the thread answers or dies. */
  onResult?: (result: InputResult) => void;
  onProgress?: (fraction: number, stage: string) => void;
  onDeath?: (reason: string) => void;
}

export class ReconstructThreadPool {
  private readonly threads: PoolThread[] = [];
  private readonly entry = reconstructWorkerEntry();

  constructor(private readonly size: number) {}

  /**
   * Reconstruct one input on an idle thread initialised with `settings` (a thread set up for
   * other settings is replaced). Resolves to the result line; a thread that dies gives an
   * internal failure (exit 1), which the queue retries.
   */
  async run(settings: BatchSettings, job: InputJob, onProgress?: (fraction: number, stage: string) => void): Promise<InputResult> {
    const thread = this.acquire(JSON.stringify(settings), settings);
    try {
      await thread.ready;
      return await new Promise<InputResult>((resolveResult) => {
        thread.onResult = resolveResult;
        thread.onProgress = onProgress;
        thread.onDeath = (reason) =>
          resolveResult({
            input: job.path,
            stem: job.stem,
            status: 'failed',
            code: 'internal',
            exitCode: EXIT_CODES.internal,
            reason: `${job.path}: internal error: ${reason}`,
            outputs: [],
            timingsMs: {},
          });
        thread.worker.postMessage({ type: 'job', job } satisfies ToWorker);
      });
    } catch (error) {
      const message = (error as Error)?.message?.split('\n')[0] ?? String(error);
      return {
        input: job.path,
        stem: job.stem,
        status: 'failed',
        code: 'internal',
        exitCode: (error as { exitCode?: number }).exitCode ?? EXIT_CODES.internal,
        reason: `${job.path}: ${message}`,
        outputs: [],
        timingsMs: {},
      };
    } finally {
      thread.busy = false;
      thread.onResult = thread.onProgress = thread.onDeath = undefined;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.splice(0).map((thread) => thread.worker.terminate()));
  }

  private acquire(settingsKey: string, settings: BatchSettings): PoolThread {
    let thread = this.threads.find((t) => !t.busy && t.settingsKey === settingsKey);
    if (!thread) {
      if (this.threads.length >= this.size) {
        const stale = this.threads.find((t) => !t.busy);
        if (!stale) throw new Error('no idle reconstruction thread');
        this.remove(stale);
        void stale.worker.terminate();
      }
      thread = this.start(settingsKey, settings);
    }
    thread.busy = true;
    return thread;
  }

  private start(settingsKey: string, settings: BatchSettings): PoolThread {
    const worker = new Worker(this.entry, { stdout: false, stderr: true });
    let markReady!: () => void, failReady!: (error: Error) => void;
    const ready = new Promise<void>((resolveReady, rejectReady) => {
      markReady = resolveReady;
      failReady = rejectReady;
    });
    const thread: PoolThread = { worker, settingsKey, ready, busy: false };
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') markReady();
      else if (message.type === 'progress') thread.onProgress?.(message.fraction, message.stage);
      else if (message.type === 'result') thread.onResult?.(message.result);
      else if (message.type === 'fatal') {
        // A failed set-up (model, GAR) or a crash outside processInput: this thread is done for.
        const error = Object.assign(new Error(message.message), { exitCode: message.exitCode });
        failReady(error);
        thread.onDeath?.(message.message);
        this.remove(thread);
        void worker.terminate();
      }
    });
    worker.on('error', () => undefined);
    worker.on('exit', (code) => {
      failReady(new Error(`reconstruction thread exited with code ${code}`));
      thread.onDeath?.(`reconstruction thread exited with code ${code}`);
      this.remove(thread);
    });
    ready.catch(() => undefined);
    worker.postMessage({ type: 'init', settings } satisfies ToWorker);
    this.threads.push(thread);
    return thread;
  }

  private remove(thread: PoolThread): void {
    const index = this.threads.indexOf(thread);
    if (index >= 0) this.threads.splice(index, 1);
  }
}
