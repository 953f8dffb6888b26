import { beforeEach, describe, expect, it } from '@jest/globals';
import { CircuitBreaker } from './circuit-breaker.js';

const THRESHOLD = 3;
const COOLDOWN_MS = 1_000;

describe('CircuitBreaker', () => {
  let nowMs: number;
  let breaker: CircuitBreaker;

  beforeEach(() => {
    nowMs = 10_000;
    breaker = new CircuitBreaker(THRESHOLD, COOLDOWN_MS, () => nowMs);
  });

  const fail = (times: number): void => {
    for (let i = 0; i < times; i += 1) breaker.recordFailure();
  };

  it('starts closed and lets every call pass', () => {
    expect(breaker.state).toBe('closed');
    expect(breaker.tryPass()).toBe(true);
    expect(breaker.tryPass()).toBe(true);
    expect(breaker.canPass()).toBe(true);
  });

  it('stays closed below the threshold and opens at it', () => {
    fail(THRESHOLD - 1);
    expect(breaker.state).toBe('closed');
    expect(breaker.tryPass()).toBe(true);

    fail(1);
    expect(breaker.state).toBe('open');
    expect(breaker.canPass()).toBe(false);
    expect(breaker.tryPass()).toBe(false);
  });

  it('counts consecutive failures only: a success resets the count', () => {
    fail(THRESHOLD - 1);
    breaker.recordSuccess();
    fail(THRESHOLD - 1);
    expect(breaker.state).toBe('closed');
    fail(1);
    expect(breaker.state).toBe('open');
  });

  it('stays open for the whole cooldown', () => {
    fail(THRESHOLD);
    nowMs += COOLDOWN_MS - 1;
    expect(breaker.state).toBe('open');
    expect(breaker.tryPass()).toBe(false);
  });

  it('lets exactly one trial call through once the cooldown ends', () => {
    fail(THRESHOLD);
    nowMs += COOLDOWN_MS;
    expect(breaker.state).toBe('half-open');
    expect(breaker.canPass()).toBe(true);

    expect(breaker.tryPass()).toBe(true);
    expect(breaker.canPass()).toBe(false);
    expect(breaker.tryPass()).toBe(false);
  });

  it('closes when the trial succeeds', () => {
    fail(THRESHOLD);
    nowMs += COOLDOWN_MS;
    expect(breaker.tryPass()).toBe(true);
    breaker.recordSuccess();

    expect(breaker.state).toBe('closed');
    expect(breaker.tryPass()).toBe(true);
    expect(breaker.tryPass()).toBe(true);
  });

  it('reopens for a fresh cooldown when the trial fails', () => {
    fail(THRESHOLD);
    nowMs += COOLDOWN_MS;
    expect(breaker.tryPass()).toBe(true);
    breaker.recordFailure();

    expect(breaker.state).toBe('open');
    nowMs += COOLDOWN_MS - 1;
    expect(breaker.tryPass()).toBe(false);
    nowMs += 1;
    expect(breaker.state).toBe('half-open');
    expect(breaker.tryPass()).toBe(true);
  });

  it('needs a full run of failures again after closing', () => {
    fail(THRESHOLD);
    nowMs += COOLDOWN_MS;
    expect(breaker.tryPass()).toBe(true);
    breaker.recordSuccess();

    fail(THRESHOLD - 1);
    expect(breaker.state).toBe('closed');
    fail(1);
    expect(breaker.state).toBe('open');
  });
});
