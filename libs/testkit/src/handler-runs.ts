import type { HandlerContext, ServedCapability } from '@crank/worker-runtime';

/** One run of a handler of a worker started by the testkit, as the testkit saw it. */
export interface HandlerRun {
  readonly requestId: string;
  readonly capability: string;
  /** `Date.now()` when the runtime called the handler. */
  readonly startedAt: number;
  /** When `ctx.signal` aborted (cancel, deadline, drain); undefined while it has not. */
  readonly abortedAt: number | undefined;
  /**
   * When the handler was done: its promise settled, or its output stream ended or failed.
   * Undefined while it still runs, which after `abortedAt` means it ignores `ctx.signal`.
   */
  readonly settledAt: number | undefined;
}

type MutableRun = { -readonly [K in keyof HandlerRun]: HandlerRun[K] };

/** Runs kept; older ones are dropped so that a long test does not grow without bound. */
const MAX_RUNS = 10_000;

/**
 * Records when each handler of a served capability starts, is aborted and finishes, by wrapping
 * it: what the runtime sees of the handler (its result, its errors, its output stream) is
 * unchanged. Lets a check tell a handler that stops on `ctx.signal` from one that runs on.
 */
export class HandlerRunLog {
  // Oldest first; bounded by MAX_RUNS.
  private readonly runs: MutableRun[] = [];

  /** Every run recorded so far, oldest first (a snapshot). */
  get all(): readonly HandlerRun[] {
    return this.runs.map((run) => ({ ...run }));
  }

  /** The latest run of the call with this request id. */
  find(requestId: string): HandlerRun | undefined {
    for (let i = this.runs.length - 1; i >= 0; i--) {
      const run = this.runs[i];
      if (run?.requestId === requestId) return { ...run };
    }
    return undefined;
  }

  /** The same capability and options, with a handler whose runs are recorded here. */
  wrap(served: ServedCapability): ServedCapability {
    const inner = served.handler as (input: unknown, ctx: HandlerContext) => unknown;
    const wrapped = (input: unknown, ctx: HandlerContext): unknown => {
      const run: MutableRun = {
        requestId: ctx.requestId,
        capability: ctx.capability,
        startedAt: Date.now(),
        abortedAt: ctx.signal.aborted ? Date.now() : undefined,
        settledAt: undefined,
      };
      if (!ctx.signal.aborted)
        ctx.signal.addEventListener('abort', () => (run.abortedAt = Date.now()), { once: true });
      this.runs.push(run);
      if (this.runs.length > MAX_RUNS) this.runs.shift();
      const settle = (): void => {
        run.settledAt ??= Date.now();
      };
      let result: unknown;
      try {
        result = inner(input, ctx);
      } catch (error) {
        settle();
        throw error;
      }
      return track(result, settle);
    };
    const close = (served.handler as { close?: () => Promise<void> }).close;
    // Threaded handlers own a pool the worker closes on stop (closeHandlers looks for close()).
    if (typeof close === 'function') Object.assign(wrapped, { close: () => close.call(served.handler) });
    return { ...served, handler: wrapped as ServedCapability['handler'] };
  }
}

/** Calls `settle` once `result` is done: a promise settles, a stream ends, anything else at once. */
function track(result: unknown, settle: () => void): unknown {
  if (isAsyncIterable(result)) return trackStream(result, settle);
  if (isPromiseLike(result)) {
    return Promise.resolve(result).then(
      (value) => track(value, settle),
      (error: unknown) => {
        settle();
        throw error;
      },
    );
  }
  settle();
  return result;
}

function trackStream(source: AsyncIterable<unknown>, settle: () => void): AsyncIterable<unknown> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<unknown> {
      const it = source[Symbol.asyncIterator]();
      return {
        async next(): Promise<IteratorResult<unknown>> {
          try {
            const next = await it.next();
            if (next.done) settle();
            return next;
          } catch (error) {
            settle();
            throw error;
          }
        },
        // An async generator stuck in an await finishes return() only once it gets going again,
        // so a stream that ignores ctx.signal stays unsettled here.
        async return(value?: unknown): Promise<IteratorResult<unknown>> {
          try {
            return (await it.return?.(value)) ?? { done: true, value };
          } finally {
            settle();
          }
        },
      };
    },
  };
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
