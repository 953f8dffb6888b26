import { describe, expect, it } from '@jest/globals';
import { ByteBudget } from './byte-budget.js';

describe('ByteBudget', () => {
  it('refuses what would pass the limit, and takes it again once given back', () => {
    const budget = new ByteBudget(100);
    const first = budget.take(60);
    expect(() => budget.take(50)).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED' }));
    expect(budget.inUse).toBe(60);
    first();
    first();
    expect(budget.inUse).toBe(0);
    expect(() => budget.take(50)).not.toThrow();
  });

  it('lets one payload larger than the whole budget through when nothing else is held', () => {
    const budget = new ByteBudget(100);
    const big = budget.take(500);
    expect(() => budget.check(1)).toThrow(
      expect.objectContaining({ details: expect.objectContaining({ retryAfterSeconds: 1 }) }),
    );
    big();
    expect(() => budget.check(1)).not.toThrow();
  });
});
