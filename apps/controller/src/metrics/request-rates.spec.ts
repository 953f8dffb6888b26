import { describe, expect, it } from '@jest/globals';
import { RequestRates } from './request-rates.js';

describe('RequestRates', () => {
  it('counts calls and errors per bucket over the window, oldest first', () => {
    let now = 100_000;
    const rates = new RequestRates(1_000, 5_000, () => now);
    rates.record(false);
    rates.record(true);
    now += 2_000;
    rates.record(false);

    expect(rates.buckets()).toEqual([
      { at: 98_000, requests: 0, errors: 0 },
      { at: 99_000, requests: 0, errors: 0 },
      { at: 100_000, requests: 2, errors: 1 },
      { at: 101_000, requests: 0, errors: 0 },
      { at: 102_000, requests: 1, errors: 0 },
    ]);
  });

  it('forgets buckets that left the window, even when their slot was not reused', () => {
    let now = 0;
    const rates = new RequestRates(1_000, 3_000, () => now);
    rates.record(true);
    now = 7_500; // slot 1 of 3 is written again; slot 0's count is 7 buckets old

    rates.record(false);

    expect(rates.buckets()).toEqual([
      { at: 5_000, requests: 0, errors: 0 },
      { at: 6_000, requests: 0, errors: 0 },
      { at: 7_000, requests: 1, errors: 0 },
    ]);
  });
});
