import { describe, expect, it } from '@jest/globals';
import { compileGpuClassifierOptions } from './gpu-classifier-options.js';

describe('compileGpuClassifierOptions', () => {
  it('fills the defaults: batches up to 64 in a 2 ms window, on two streams, within 2 GiB', () => {
    expect(compileGpuClassifierOptions({}, {})).toEqual({
      batchWindowMs: 2,
      maxBatch: 64,
      device: 0,
      streams: 2,
      memoryMb: 2048,
      concurrency: 256,
      unsafeThreshold: 0.5,
    });
  });

  it('reads the environment, options given in code first', () => {
    const env = { CRANK_GPU_STREAMS: '4', CRANK_GPU_MEMORY_MB: '512', CRANK_IMAGE_UNSAFE_THRESHOLD: '0.3' };
    expect(compileGpuClassifierOptions({ streams: 3 }, env)).toMatchObject({
      streams: 3,
      memoryMb: 512,
      unsafeThreshold: 0.3,
    });
  });

  it('names the variable and the rule it breaks', () => {
    expect(() => compileGpuClassifierOptions({}, { CRANK_GPU_MAX_BATCH: '128' })).toThrow(
      new TypeError('maxBatch (CRANK_GPU_MAX_BATCH): must be a whole number from 1 to 64 (got 128)'),
    );
    expect(() => compileGpuClassifierOptions({}, { CRANK_GPU_STREAMS: 'two' })).toThrow(
      new TypeError('CRANK_GPU_STREAMS: must be a whole number (got "two")'),
    );
  });
});
