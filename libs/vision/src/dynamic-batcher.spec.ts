import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { DynamicBatcher } from './dynamic-batcher.js';

/** A batch runner that records each batch and answers when told to. */
class RecordingRunner {
  readonly batches: number[][] = [];
  private readonly pending: (() => void)[] = [];
  /** Whether batches answer at once, or wait for `finishNext()`. */
  constructor(private readonly immediate: boolean) {}

  readonly run = (items: readonly number[]): Promise<string[]> => {
    this.batches.push([...items]);
    const answer = items.map((item) => `r${item}`);
    if (this.immediate) return Promise.resolve(answer);
    return new Promise((resolve) => this.pending.push(() => resolve(answer)));
  };

  finishNext(): void {
    this.pending.shift()?.();
  }
}

describe('DynamicBatcher', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('runs the calls that arrive within the window as one batch, each answered its own results', async () => {
    const runner = new RecordingRunner(true);
    const batcher = new DynamicBatcher(runner.run, { windowMs: 5, maxBatch: 64 });
    const a = batcher.submit([1, 2]);
    await jest.advanceTimersByTimeAsync(3);
    const b = batcher.submit([3]);
    expect(runner.batches).toEqual([]);
    await jest.advanceTimersByTimeAsync(2);
    expect(runner.batches).toEqual([[1, 2, 3]]);
    await expect(a).resolves.toEqual(['r1', 'r2']);
    await expect(b).resolves.toEqual(['r3']);
  });

  it('starts a new window for a call after the batch ran', async () => {
    const runner = new RecordingRunner(true);
    const batcher = new DynamicBatcher(runner.run, { windowMs: 5, maxBatch: 64 });
    const a = batcher.submit([1]);
    await jest.advanceTimersByTimeAsync(5);
    const b = batcher.submit([2]);
    await jest.advanceTimersByTimeAsync(5);
    expect(runner.batches).toEqual([[1], [2]]);
    await expect(Promise.all([a, b])).resolves.toEqual([['r1'], ['r2']]);
  });

  it('runs a full batch at once, without waiting out the window', async () => {
    const runner = new RecordingRunner(true);
    const batcher = new DynamicBatcher(runner.run, { windowMs: 1000, maxBatch: 3 });
    const calls = [batcher.submit([1, 2]), batcher.submit([3])];
    await jest.advanceTimersByTimeAsync(0);
    expect(runner.batches).toEqual([[1, 2, 3]]);
    await expect(Promise.all(calls)).resolves.toEqual([['r1', 'r2'], ['r3']]);
  });

  it('runs one batch at a time; what arrives meanwhile runs next, a call never split', async () => {
    const runner = new RecordingRunner(false);
    const batcher = new DynamicBatcher(runner.run, { windowMs: 5, maxBatch: 4 });
    const first = batcher.submit([1]);
    await jest.advanceTimersByTimeAsync(5);
    const later = [batcher.submit([2, 3]), batcher.submit([4, 5]), batcher.submit([6])];
    await jest.advanceTimersByTimeAsync(50);
    expect(runner.batches).toEqual([[1]]);
    expect(batcher.queued).toBe(5);
    runner.finishNext();
    await jest.advanceTimersByTimeAsync(0);
    // [2, 3] and [4, 5] fill the batch of 4; [6] waits for the next.
    expect(runner.batches).toEqual([[1], [2, 3, 4, 5]]);
    runner.finishNext();
    await jest.advanceTimersByTimeAsync(0);
    runner.finishNext();
    expect(runner.batches).toEqual([[1], [2, 3, 4, 5], [6]]);
    await expect(Promise.all([first, ...later])).resolves.toEqual([
      ['r1'],
      ['r2', 'r3'],
      ['r4', 'r5'],
      ['r6'],
    ]);
  });

  it('runs up to maxRunning batches at once (one per GPU stream)', async () => {
    const runner = new RecordingRunner(false);
    const batcher = new DynamicBatcher(runner.run, { windowMs: 5, maxBatch: 2, maxRunning: 2 });
    const calls = [batcher.submit([1, 2]), batcher.submit([3, 4]), batcher.submit([5])];
    await jest.advanceTimersByTimeAsync(10);
    // Two full batches run side by side; the third waits for one of them.
    expect(runner.batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
    runner.finishNext();
    await jest.advanceTimersByTimeAsync(10);
    expect(runner.batches).toEqual([[1, 2], [3, 4], [5]]);
    runner.finishNext();
    runner.finishNext();
    await expect(Promise.all(calls)).resolves.toEqual([['r1', 'r2'], ['r3', 'r4'], ['r5']]);
  });

  it('fails every call of a batch whose run fails, and keeps serving', async () => {
    let fail = true;
    const batcher = new DynamicBatcher(
      (items: readonly number[]) =>
        fail ? Promise.reject(new Error('model broke')) : Promise.resolve(items.map(String)),
      { windowMs: 5, maxBatch: 8 },
    );
    const calls = [batcher.submit([1]), batcher.submit([2])];
    const settled = Promise.allSettled(calls);
    await jest.advanceTimersByTimeAsync(5);
    expect((await settled).map((s) => s.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    const next = batcher.submit([3]);
    await jest.advanceTimersByTimeAsync(5);
    await expect(next).resolves.toEqual(['3']);
  });

  it('takes a cancelled call out of the queue with its signal reason', async () => {
    const runner = new RecordingRunner(true);
    const batcher = new DynamicBatcher(runner.run, { windowMs: 5, maxBatch: 8 });
    const abort = new AbortController();
    const cancelled = batcher.submit([1], abort.signal);
    const kept = batcher.submit([2]);
    abort.abort(new Error('caller went away'));
    await expect(cancelled).rejects.toThrow('caller went away');
    await jest.advanceTimersByTimeAsync(5);
    expect(runner.batches).toEqual([[2]]);
    await expect(kept).resolves.toEqual(['r2']);
  });

  it('refuses a call of more than maxBatch items, and calls after close with UNAVAILABLE', async () => {
    const runner = new RecordingRunner(true);
    const batcher = new DynamicBatcher(runner.run, { windowMs: 5, maxBatch: 2 });
    await expect(batcher.submit([1, 2, 3])).rejects.toThrow(new RangeError('items: must be 1 to 2 (got 3)'));
    const waiting = batcher.submit([1]);
    await batcher.close();
    await expect(waiting).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(batcher.submit([1])).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(runner.batches).toEqual([]);
  });
});
