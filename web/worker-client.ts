// The page's side of the worker: one request at a time (live mode's frames may queue a few, answered
// in order, as the worker handles its messages one after another), progress and the encoder's estimate as
// events, and a restart on another backend (a worker busy in a long fit cannot be interrupted:
// it is terminated and a fresh one loads the same models).
import type { WorkerRequest, WorkerResponse } from './messages.ts';

type InitRequest = Extract<WorkerRequest, { type: 'init' }>;
export type ReadyResponse = Extract<WorkerResponse, { type: 'ready' }>;
type EventResponse = Extract<WorkerResponse, { type: 'progress' | 'estimate' }>;

/** Rejects what the old worker still owed when it is replaced. */
export class WorkerReplacedError extends Error {
  constructor() {
    super('the reconstruction worker was restarted');
  }
}

export class WorkerClient {
  private worker: Worker | undefined;
  /** Requests sent and not yet answered, oldest first. */
  private pending: { resolve: (response: WorkerResponse) => void; reject: (error: Error) => void }[] = [];

  /** `init` without its backend, kept to start the same models again; its buffers are copied, never transferred. */
  constructor(
    private readonly url: URL,
    private readonly init: Omit<InitRequest, 'backend'>,
    private readonly onEvent: (event: EventResponse) => void,
    private readonly onFailure: (message: string) => void,
  ) {}

  /** Start a worker on `backend` (undefined: the worker chooses) and load the models; resolves with its 'ready'. */
  async start(backend?: string): Promise<ReadyResponse> {
    this.stop();
    const worker = new Worker(this.url, { type: 'module' });
    this.worker = worker;
    worker.onerror = (event) => {
      const message = `The reconstruction worker failed: ${event.message || 'unknown error'}`;
      const pending = this.pending;
      this.pending = [];
      if (pending.length > 0) for (const request of pending) request.reject(new Error(message));
      else this.onFailure(message);
    };
    worker.onmessage = (event: MessageEvent<WorkerResponse>) => {
      if (worker !== this.worker) return;
      const response = event.data;
      if (response.type === 'progress' || response.type === 'estimate') this.onEvent(response);
      else this.pending.shift()?.resolve(response);
    };
    const response = await this.ask({ ...this.init, backend });
    if (response.type !== 'ready') throw new Error(response.type === 'error' ? response.message : 'unexpected worker reply');
    return response;
  }

  /** Send one request and wait for its answer ('result', 'tracked', 'error', …); rejects while another is unanswered. */
  ask(request: WorkerRequest, transfer: Transferable[] = []): Promise<WorkerResponse> {
    return this.queue(request, transfer, 1);
  }

  /**
   * Send a request behind at most `depth` - 1 unanswered ones (the worker answers in order). Live
   * mode keeps two frames queued so the worker starts the next as soon as it answers one, instead
   * of waiting for the page to draw and grab another frame.
   */
  queue(request: WorkerRequest, transfer: Transferable[] = [], depth = 2): Promise<WorkerResponse> {
    if (!this.worker) return Promise.reject(new Error('the reconstruction worker is not running'));
    if (this.pending.length >= depth) return Promise.reject(new Error('the reconstruction worker is busy'));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.worker!.postMessage(request, transfer);
    });
  }

  get busy(): boolean {
    return this.pending.length > 0;
  }

  /** End the worker now; what it owed rejects with WorkerReplacedError. */
  stop(): void {
    this.worker?.terminate();
    this.worker = undefined;
    const pending = this.pending;
    this.pending = [];
    for (const request of pending) request.reject(new WorkerReplacedError());
  }
}
