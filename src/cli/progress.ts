/**
 * Terminal progress for a batch: finished inputs print one permanent line each; on a TTY a
 * status line at the bottom shows a bar for the batch and each input in flight. Off a TTY
 * (logs, CI) only the permanent lines are printed.
 */
export class BatchProgress {
  private readonly stream: NodeJS.WriteStream;
  private readonly enabled: boolean;
  private readonly interactive: boolean;
  private readonly total: number;
  private done = 0;
  private readonly active = new Map<number, { name: string; fraction: number; stage: string }>();
  private lastDraw = 0;
  private statusShown = false;

  constructor(total: number, options: { stream?: NodeJS.WriteStream; enabled?: boolean } = {}) {
    this.stream = options.stream ?? process.stderr;
    this.enabled = options.enabled ?? true;
    this.interactive = this.enabled && Boolean(this.stream.isTTY);
    this.total = total;
  }

  update(index: number, name: string, fraction: number, stage: string): void {
    this.active.set(index, { name, fraction, stage });
    const now = Date.now();
    if (now - this.lastDraw > 80) this.draw();
  }

  /** Print a finished input's line above the status line. */
  finish(index: number, line: string): void {
    this.active.delete(index);
    this.done++;
    this.clearStatus();
    if (this.enabled) this.stream.write(line + '\n');
    this.draw();
  }

  /** Print a line that is not about one input (e.g. model download). */
  log(line: string): void {
    if (!this.enabled) return;
    this.clearStatus();
    this.stream.write(line + '\n');
    this.draw();
  }

  close(): void {
    this.clearStatus();
  }

  private draw(): void {
    if (!this.interactive) return;
    this.lastDraw = Date.now();
    const fractionDone = (this.done + [...this.active.values()].reduce((s, a) => s + a.fraction, 0)) / Math.max(1, this.total);
    const width = 24;
    const filled = Math.round(width * Math.min(1, fractionDone));
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const inFlight = [...this.active.values()].map((a) => `${a.name} ${a.stage} ${Math.round(100 * a.fraction)}%`).join(' · ');
    const columns = this.stream.columns ?? 100;
    const text = `${bar} ${this.done}/${this.total}  ${inFlight}`.slice(0, columns - 1);
    this.stream.write(`\r\x1b[2K${text}`);
    this.statusShown = true;
  }

  private clearStatus(): void {
    if (this.statusShown) this.stream.write('\r\x1b[2K');
    this.statusShown = false;
  }
}

/** A byte-count progress line for downloads ("model: 12.3 / 180.0 MB"). */
export function formatBytesProgress(done: number, total: number): string {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return total > 0 ? `${mb(done)} / ${mb(total)} MB (${Math.round((100 * done) / total)}%)` : `${mb(done)} MB`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}
