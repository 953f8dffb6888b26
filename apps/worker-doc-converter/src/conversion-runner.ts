import { CapabilityError, inThreads, type ThreadCallContext } from '@crank/worker-runtime';
import { ConversionError } from './conversion-error.js';
import { convert, type ConvertJob, type ConvertResult } from './conversion.js';

/** Where conversions run: a pool of threads in the worker, or this thread in unit tests. */
export interface ConversionRunner {
  /**
   * Runs one conversion. When `ctx.signal` aborts, it rejects at once with the signal's reason
   * (and the thread pool stops the thread doing the work).
   */
  run(job: ConvertJob, ctx: ThreadCallContext): Promise<ConvertResult>;
  /** Stops the threads; calls made after fail with UNAVAILABLE. Idempotent. */
  close(): Promise<void>;
}

/**
 * Conversions in a pool of `threads` worker threads (the runtime's `inThreads`), so that parsing
 * and encoding never hold up the event loop that answers heartbeats, health checks and cancels.
 */
export function threadRunner(threads: number): ConversionRunner {
  const pool = inThreads<ConvertJob, ConvertResult>(new URL('./convert-task.js', import.meta.url), {
    threads,
  });
  return { run: (job, ctx) => pool(job, ctx), close: () => pool.close() };
}

/**
 * Conversions in the calling thread: for unit tests, which run from TypeScript sources that a
 * pool thread could not load. Failures come out as the pool's do (a ConversionError becomes a
 * CapabilityError); an abort rejects at once, while the work itself runs to its end.
 */
export function inProcessRunner(): ConversionRunner {
  return {
    run: (job, ctx) =>
      new Promise((resolve, reject) => {
        if (ctx.signal.aborted) {
          reject(ctx.signal.reason as Error);
          return;
        }
        const onAbort = (): void => reject(ctx.signal.reason as Error);
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        void convert(job)
          .then(resolve, (error: unknown) => reject(asCapabilityError(error)))
          .finally(() => ctx.signal.removeEventListener('abort', onAbort));
      }),
    close: () => Promise.resolve(),
  };
}

function asCapabilityError(error: unknown): unknown {
  return error instanceof ConversionError
    ? new CapabilityError(error.code, error.message, error.details, { cause: error })
    : error;
}
