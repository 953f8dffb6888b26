import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { types } from 'node:util';
import { CrankError, crankErrorFrom } from '@crank/capabilities';
import { Piscina } from 'piscina';
import type { HandlerContext, ServedCapability } from './handler.js';
import type {
  ThreadTaskFailure,
  ThreadTaskInfo,
  ThreadTaskMessage,
  ThreadTaskOutcome,
} from './thread-task-runner.js';

export type { ThreadTaskInfo } from './thread-task-runner.js';

/** Options of {@link inThreads}. */
export interface ThreadPoolOptions {
  /** The task module's export to call. @default 'default' */
  exportName?: string;
  /** Most tasks running at once, one per thread. @default the number of CPUs minus one, at least 1 */
  threads?: number;
  /** How long an idle thread beyond the first lives before it exits. @default 30000 */
  idleTimeoutMs?: number;
  /**
   * Most calls waiting for a free thread; one more fails with RESOURCE_EXHAUSTED. The capability's
   * `maxConcurrency` already bounds the calls a worker takes, hence no limit by default.
   * @default Infinity
   */
  maxQueue?: number;
}

/** {@link ThreadPoolOptions} with every default filled and checked, and the module as a URL. */
export interface CompiledThreadPoolOptions {
  /** The task module's URL, as `import()` in a thread takes it. */
  readonly moduleUrl: string;
  readonly exportName: string;
  readonly threads: number;
  readonly idleTimeoutMs: number;
  readonly maxQueue: number;
}

/** What a threaded handler reads from its {@link HandlerContext}. */
export type ThreadCallContext = Pick<
  HandlerContext,
  'signal' | 'deadline' | 'capability' | 'version' | 'requestId'
>;

/** A unary handler whose work runs in a pool of worker threads; see {@link inThreads}. */
export interface ThreadedHandler<I, O> {
  (input: I, ctx: ThreadCallContext): Promise<O>;
  /**
   * Ends the pool: its threads are terminated at once, so a call still running fails with
   * UNAVAILABLE, as does every later call. Meant for after the worker's drain (see
   * {@link closeHandlers}). Idempotent: later calls get the same promise.
   */
  close(): Promise<void>;
}

/** The code each thread runs around the task; compiled beside this file. */
const RUNNER_URL = new URL('./thread-task-runner.js', import.meta.url);

/**
 * A handler that runs a CPU-heavy or synchronous task in a pool of worker threads, so that the
 * worker's event loop stays free for heartbeats, health checks and cancellation.
 *
 * The task module exports a function `(input, info) => output | Promise<output>` with `info` a
 * {@link ThreadTaskInfo}; it runs inside a thread, so it sees neither `ctx` nor the worker's
 * state. Input and output cross by structured clone (a copy): JSON values, Dates, and bytes (a
 * top-level byte input or output is a Buffer on both sides; nested ones arrive as Uint8Arrays).
 * An error thrown with a contract `code` (a `CapabilityError`) reaches the caller with that code,
 * message and details; any other error becomes INTERNAL with its message.
 *
 * The pool starts on the first call. A cancel, deadline or drain (`ctx.signal`) terminates the
 * task's thread at once and the call rejects with the signal's reason; a fresh thread replaces it.
 * Streaming capabilities whose input is a stream (`input`, `bidi`) are not supported.
 *
 * @param module - the task module: a `file:` URL (`new URL('./task.js', import.meta.url)`) or an
 *   absolute path; the thread imports it, so it must be JavaScript Node can load
 * @throws TypeError naming the option at fault
 *
 * @example
 * serve(resize, inThreads<ResizeInput, Buffer>(new URL('./resize-task.js', import.meta.url)))
 */
export function inThreads<I, O>(
  module: URL | string,
  options: ThreadPoolOptions = {},
): ThreadedHandler<I, O> {
  return threadedHandler(compileThreadPoolOptions(module, options), RUNNER_URL);
}

/**
 * Closes every served handler that has a `close()` (those of {@link inThreads}), each once, all
 * at the same time. The worker calls it on stop, after the drain.
 *
 * @throws AggregateError listing the handlers whose close failed, after every other one closed
 */
export async function closeHandlers(served: readonly ServedCapability[]): Promise<void> {
  const closable = new Set<{ close(): Promise<void> }>();
  for (const { handler } of served) {
    const close = (handler as { close?: unknown }).close;
    if (typeof close === 'function') closable.add(handler as unknown as { close(): Promise<void> });
  }
  const results = await Promise.allSettled([...closable].map((handler) => handler.close()));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    throw new AggregateError(
      failures,
      `closeHandlers: ${failures.length} of ${closable.size} failed to close`,
    );
  }
}

/** Fills defaults and validates; pure, so that a bad option fails where the handler is declared. */
export function compileThreadPoolOptions(
  module: URL | string,
  options: ThreadPoolOptions = {},
): CompiledThreadPoolOptions {
  const exportName = options.exportName ?? 'default';
  if (typeof exportName !== 'string' || exportName === '') {
    throw new TypeError('exportName: must be a non-empty string');
  }
  const threads = options.threads ?? Math.max(1, availableParallelism() - 1);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new TypeError(`threads: must be an integer of at least 1 (got ${String(threads)})`);
  }
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  if (!Number.isFinite(idleTimeoutMs) || idleTimeoutMs < 0) {
    throw new TypeError(`idleTimeoutMs: must be a non-negative number (got ${String(idleTimeoutMs)})`);
  }
  const maxQueue = options.maxQueue ?? Infinity;
  if (!(Number.isInteger(maxQueue) || maxQueue === Infinity) || maxQueue < 0) {
    throw new TypeError(`maxQueue: must be a non-negative integer or Infinity (got ${String(maxQueue)})`);
  }
  return { moduleUrl: moduleUrlOf(module), exportName, threads, idleTimeoutMs, maxQueue };
}

/**
 * {@link inThreads} with the thread runner as a parameter: specs run from TypeScript sources,
 * where no compiled runner lies beside this file, and pass one they compiled.
 */
export function threadedHandler<I, O>(
  options: CompiledThreadPoolOptions,
  runnerUrl: URL,
): ThreadedHandler<I, O> {
  const task = `${options.moduleUrl}#${options.exportName}`;
  // Started by the first call; a closed handler stays closed and never starts another.
  let pool: Piscina<ThreadTaskMessage, ThreadTaskOutcome> | undefined;
  let closing: Promise<void> | undefined;
  // Calls of this handler running or waiting for a thread. Counted here rather than left to
  // Piscina's `maxQueue`, which does not count tasks that carry an abort signal (all of these).
  let calls = 0;

  const start = (): Piscina<ThreadTaskMessage, ThreadTaskOutcome> => {
    const created = new Piscina<ThreadTaskMessage, ThreadTaskOutcome>({
      filename: runnerUrl.href,
      minThreads: 1,
      maxThreads: options.threads,
      idleTimeout: options.idleTimeoutMs,
    });
    // A thread that fails between calls (e.g. a timer of the task throwing later) is replaced
    // by Piscina; its 'error' event must not be left unhandled, which would end the process.
    created.on('error', (error: Error) =>
      process.emitWarning(`thread pool of ${task}: ${error.message}`, { code: 'CRANK_THREAD_POOL' }),
    );
    return created;
  };

  const handler = async (input: I, ctx: ThreadCallContext): Promise<O> => {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (closing) throw closedError(task);
    if (isAsyncIterable(input)) {
      throw new CrankError(
        'INTERNAL',
        `inThreads(${task}): serves unary input only, not a stream of records`,
      );
    }
    if (calls >= options.threads + options.maxQueue) {
      throw new CrankError(
        'RESOURCE_EXHAUSTED',
        `inThreads(${task}): all ${options.threads} threads are busy and the queue is full (maxQueue ${options.maxQueue})`,
      );
    }
    pool ??= start();
    const info: ThreadTaskInfo = {
      capability: ctx.capability,
      version: ctx.version,
      requestId: ctx.requestId,
      deadline: ctx.deadline,
    };
    let outcome: ThreadTaskOutcome;
    calls += 1;
    try {
      outcome = await pool.run(
        { moduleUrl: options.moduleUrl, exportName: options.exportName, input, info },
        { signal: ctx.signal },
      );
    } catch (error) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (closing) throw closedError(task, error);
      throw new CrankError('INTERNAL', `inThreads(${task}): ${(error as Error)?.message ?? String(error)}`, {
        cause: error,
      });
    } finally {
      calls -= 1;
    }
    if (!outcome.ok) throw errorOf(outcome.error);
    return (types.isUint8Array(outcome.value) ? asBuffer(outcome.value) : outcome.value) as O;
  };

  return Object.assign(handler, {
    close(): Promise<void> {
      closing ??= pool ? pool.destroy() : Promise.resolve();
      return closing;
    },
  });
}

function moduleUrlOf(module: URL | string): string {
  if (module instanceof URL) return module.href;
  if (isAbsolute(module)) return pathToFileURL(module).href;
  try {
    return new URL(module).href;
  } catch {
    throw new TypeError(`module: must be a URL or an absolute path (got "${module}")`);
  }
}

function closedError(task: string, cause?: unknown): CrankError {
  return new CrankError('UNAVAILABLE', `inThreads(${task}): the thread pool is closed`, { cause });
}

/** Rebuilds a thread's error: its contract class and code when it had one, else INTERNAL. */
function errorOf(failure: ThreadTaskFailure): CrankError {
  const cause = new Error(failure.message);
  if (failure.stack !== undefined) cause.stack = failure.stack;
  if (failure.code === undefined) return new CrankError('INTERNAL', failure.message, { cause });
  return crankErrorFrom(failure.code, failure.message, failure.details, {
    cause,
    ...(failure.retryable === undefined ? {} : { retryable: failure.retryable }),
  });
}

/** A top-level byte output was a Buffer in the thread; the clone made it a plain Uint8Array. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
