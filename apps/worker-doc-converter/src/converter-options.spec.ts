import { availableParallelism } from 'node:os';
import { describe, expect, it } from '@jest/globals';
import { compileConverterOptions } from './converter-options.js';

describe('compileConverterOptions', () => {
  it('fills the defaults', () => {
    const threads = availableParallelism();
    expect(compileConverterOptions({}, {})).toEqual({
      maxInputBytes: 50 * 1024 * 1024,
      timeoutMs: 60_000,
      threads,
      concurrency: threads,
    });
  });

  it('reads unset options from the environment; given ones win', () => {
    const env = {
      CRANK_CONVERT_MAX_BYTES: '1000',
      CRANK_CONVERT_THREADS: '3',
      CRANK_CONVERT_TIMEOUT_MS: '500',
    };
    expect(compileConverterOptions({ timeoutMs: 700 }, env)).toEqual({
      maxInputBytes: 1000,
      timeoutMs: 700,
      threads: 3,
      concurrency: 3,
    });
  });

  it.each([
    [{}, { CRANK_CONVERT_MAX_BYTES: '50MB' }, 'CRANK_CONVERT_MAX_BYTES: must be a whole number (got "50MB")'],
    [
      { maxInputBytes: 64 * 1024 * 1024 },
      {},
      'maxInputBytes (CRANK_CONVERT_MAX_BYTES): must be a whole number from 1 to 66060288 (got 67108864)',
    ],
    [{ threads: 0 }, {}, 'threads (CRANK_CONVERT_THREADS): must be a whole number from 1 to 256 (got 0)'],
    [
      {},
      { CRANK_CONVERT_TIMEOUT_MS: '0' },
      'timeoutMs (CRANK_CONVERT_TIMEOUT_MS): must be a whole number from 1 to 86400000 (got 0)',
    ],
  ])('refuses %j %j', (options, env, message) => {
    expect(() => compileConverterOptions(options, env)).toThrow(new TypeError(message));
  });
});
