import { CapabilityError } from '@crank/capabilities';

/** Runs one batch: answers one result per item, in order. */
export type BatchRun<TItem, TResult> = (items: readonly TItem[]) => Promise<readonly TResult[]>;

/** Options of a {@link DynamicBatcher}. */
export interface DynamicBatcherOptions {
  /** How long the first item of a batch waits for more; 0 runs what has arrived on the next tick. */
  windowMs: number;
  /** Most items one batch takes; a batch this full runs without waiting out the window. */
  maxBatch: number;
  /**
   * Batches running at once: one per CUDA stream, so that one batch's copies overlap another's
   * kernels. @default 1
   */
  maxRunning?: number;
}

interface Pending<TItem, TResult> {
  readonly items: readonly TItem[];
  readonly resolve: (results: TResult[]) => void;
  readonly reject: (error: unknown) => void;
  readonly dispose: () => void;
}

/**
 * Collects the items of concurrent calls into batches: the first item starts a window of
 * `windowMs`, and everything submitted within it (up to `maxBatch` items) runs as one batch. Up
 * to `maxRunning` batches run at once (one per stream); what arrives while all run goes into the
 * next batch as soon as one ends. A call's items always go into one batch together, so a call
 * may carry at most `maxBatch` items. A call whose signal aborts before its batch starts leaves
 * the queue with the signal's reason.
 */
export class DynamicBatcher<TItem, TResult> {
  /** Calls waiting for a batch, oldest first. */
  private readonly queue: Pending<TItem, TResult>[] = [];
  private queuedItems = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The batches now running: at most `maxRunning`. */
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly run: BatchRun<TItem, TResult>,
    private readonly options: DynamicBatcherOptions,
  ) {}

  /** Items waiting for a batch (not those of the batch running). */
  get queued(): number {
    return this.queuedItems;
  }

  /**
   * Runs `items` in a batch with whatever else arrives within the window; resolves with their
   * results, in order.
   *
   * @throws RangeError when a call carries more than `maxBatch` items, or none
   */
  submit(items: readonly TItem[], signal?: AbortSignal): Promise<TResult[]> {
    if (items.length === 0 || items.length > this.options.maxBatch)
      return Promise.reject(
        new RangeError(`items: must be 1 to ${this.options.maxBatch} (got ${items.length})`),
      );
    if (this.closed)
      return Promise.reject(new CapabilityError('UNAVAILABLE', 'classifier: stopping, takes no more calls'));
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<TResult[]>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.queue.indexOf(pending);
        if (index < 0) return; // already in a batch: it runs to its end
        this.queue.splice(index, 1);
        this.queuedItems -= items.length;
        reject(signal?.reason as Error);
      };
      const pending: Pending<TItem, TResult> = {
        items,
        resolve,
        reject,
        dispose: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(pending);
      this.queuedItems += items.length;
      this.schedule();
    });
  }

  /** Rejects the calls still waiting with UNAVAILABLE and waits for the batch running. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const pending of this.queue.splice(0)) {
      pending.dispose();
      pending.reject(new CapabilityError('UNAVAILABLE', 'classifier: stopped before this call ran'));
    }
    this.queuedItems = 0;
    await Promise.all(this.running);
  }

  /** Starts the window, or the batch at once when it is full; nothing while a batch runs. */
  private schedule(): void {
    if (this.running.size >= (this.options.maxRunning ?? 1) || this.queue.length === 0) return;
    if (this.queuedItems >= this.options.maxBatch) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.startBatch();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.startBatch();
      }, this.options.windowMs);
    }
  }

  private startBatch(): void {
    const taken: Pending<TItem, TResult>[] = [];
    let count = 0;
    while (this.queue.length > 0 && count + (this.queue[0]?.items.length ?? 0) <= this.options.maxBatch) {
      const next = this.queue.shift() as Pending<TItem, TResult>;
      next.dispose();
      taken.push(next);
      count += next.items.length;
    }
    this.queuedItems -= count;
    const batch: Promise<void> = this.runBatch(taken).finally(() => {
      this.running.delete(batch);
      // What arrived meanwhile has waited at least a batch: it runs now, not after a new window.
      if (this.queue.length > 0 && !this.closed) this.startBatch();
    });
    this.running.add(batch);
  }

  private async runBatch(taken: readonly Pending<TItem, TResult>[]): Promise<void> {
    try {
      const results = await this.run(taken.flatMap((pending) => pending.items));
      let offset = 0;
      for (const pending of taken) {
        pending.resolve(results.slice(offset, offset + pending.items.length));
        offset += pending.items.length;
      }
    } catch (error) {
      for (const pending of taken) pending.reject(error);
    }
  }
}
