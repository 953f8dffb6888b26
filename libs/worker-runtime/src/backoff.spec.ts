import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { backoffDelayMs, sleep } from './backoff.js';

describe('backoffDelayMs', () => {
  it('waits the base delay when the random draw is 0', () => {
    for (const attempt of [0, 1, 5, 30]) expect(backoffDelayMs(attempt, 100, 5_000, () => 0)).toBe(100);
  });

  it('doubles the ceiling with each attempt when the random draw is at its top', () => {
    expect([0, 1, 2, 3, 4].map((attempt) => backoffDelayMs(attempt, 100, 5_000, () => 1))).toEqual([
      100, 200, 400, 800, 1_600,
    ]);
  });

  it('never exceeds the maximum, even for huge attempt numbers', () => {
    expect(backoffDelayMs(6, 100, 5_000, () => 1)).toBe(5_000);
    expect(backoffDelayMs(1_000, 100, 5_000, () => 1)).toBe(5_000);
    expect(backoffDelayMs(3, 100, 5_000, () => 0.5)).toBe(450);
  });

  it('waits the base delay when the maximum is below it', () => {
    expect(backoffDelayMs(3, 500, 100, () => 1)).toBe(500);
  });
});

describe('sleep', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('resolves after the delay', async () => {
    jest.useFakeTimers();
    let done = false;
    const sleeping = sleep(1_000).then(() => {
      done = true;
    });
    await jest.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await sleeping;
    expect(done).toBe(true);
  });

  it('rejects with the abort reason when aborted while sleeping', async () => {
    const controller = new AbortController();
    const sleeping = sleep(60_000, controller.signal);
    const reason = new Error('shutting down');
    controller.abort(reason);
    await expect(sleeping).rejects.toBe(reason);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const reason = new Error('already gone');
    await expect(sleep(60_000, AbortSignal.abort(reason))).rejects.toBe(reason);
  });
});
