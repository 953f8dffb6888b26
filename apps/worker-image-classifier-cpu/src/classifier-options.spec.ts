import { availableParallelism } from 'node:os';
import { describe, expect, it } from '@jest/globals';
import { compileClassifierOptions } from './classifier-options.js';

describe('compileClassifierOptions', () => {
  it('defaults: a 5 ms window, batches of 64, a thread and 8 calls per CPU, threshold 0.5', () => {
    const cpus = availableParallelism();
    expect(compileClassifierOptions({}, {})).toEqual({
      batchWindowMs: 5,
      maxBatch: 64,
      threads: cpus,
      concurrency: 8 * cpus,
      unsafeThreshold: 0.5,
    });
  });

  it('reads CRANK_IMAGE_* variables', () => {
    expect(
      compileClassifierOptions(
        {},
        {
          CRANK_IMAGE_BATCH_WINDOW_MS: '0',
          CRANK_IMAGE_MAX_BATCH: '16',
          CRANK_IMAGE_THREADS: '1',
          CRANK_IMAGE_CONCURRENCY: '32',
          CRANK_IMAGE_UNSAFE_THRESHOLD: '0.25',
        },
      ),
    ).toEqual({ batchWindowMs: 0, maxBatch: 16, threads: 1, concurrency: 32, unsafeThreshold: 0.25 });
  });

  it('names the variable and the rule it breaks', () => {
    expect(() => compileClassifierOptions({}, { CRANK_IMAGE_BATCH_WINDOW_MS: 'soon' })).toThrow(
      new TypeError('CRANK_IMAGE_BATCH_WINDOW_MS: must be a whole number (got "soon")'),
    );
    expect(() => compileClassifierOptions({}, { CRANK_IMAGE_UNSAFE_THRESHOLD: '1.5' })).toThrow(
      new TypeError('unsafeThreshold (CRANK_IMAGE_UNSAFE_THRESHOLD): must be a number from 0 to 1 (got 1.5)'),
    );
    expect(() => compileClassifierOptions({ maxBatch: 0 })).toThrow(
      'maxBatch (CRANK_IMAGE_MAX_BATCH): must be a whole number from 1 to 256 (got 0)',
    );
  });
});
