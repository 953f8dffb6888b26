import { randomUUID } from 'node:crypto';
import { CrankError } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import type { HandlerContext } from '@crank/worker-runtime';
import { pino, type LevelWithSilent } from 'pino';
import { Registry } from 'prom-client';

/** What {@link mockContext} puts in the context; every field has a default. */
export interface MockContextOptions {
  /** `ctx.capability`. @default 'test.capability' (the served capability's id in `callHandler`) */
  capability?: string;
  /** `ctx.version`. @default '1.0.0' (the served capability's version in `callHandler`) */
  version?: string;
  /** `ctx.requestId`. @default a random UUID */
  requestId?: string;
  /** `ctx.caller`, the CN of the original caller. @default 'test-caller' */
  caller?: string;
  /** `ctx.workerId`. @default 'test-worker' */
  workerId?: string;
  /** `ctx.contentType`. @default 'application/json' */
  contentType?: string;
  /** `ctx.deadline`; the signal aborts with DEADLINE_EXCEEDED when it passes. @default none */
  deadline?: Date;
  /** Sets `deadline` this many ms from now (when `deadline` is not given). */
  timeoutMs?: number;
  /** Aborting it aborts `ctx.signal` with the same reason (a test's own cancel switch). */
  signal?: AbortSignal;
  /**
   * `ctx.client`, for handlers that call other capabilities (e.g. a `startTestCluster` client).
   * @default a client whose every call throws an Error saying that the test gave none
   */
  client?: CrankClient;
  /** Lowest level `ctx.logger` records. @default 'trace' */
  logLevel?: LevelWithSilent;
  /** `ctx.jobId`: run the handler as an attempt of this job. @default undefined (a plain call) */
  jobId?: string;
}

/** One `ctx.progress` report a handler made. */
export interface ProgressRecord {
  fraction: number;
  message: string;
}

/** One line a handler logged through `ctx.logger`: pino's fields, `level` as its label. */
export interface LogRecord {
  level: string;
  msg?: string;
  [field: string]: unknown;
}

/** A {@link HandlerContext} for tests, with the lines it logged and a cancel switch. */
export interface MockHandlerContext extends HandlerContext {
  /** Lines logged through `ctx.logger` and its children, oldest first. */
  readonly logs: readonly LogRecord[];
  /** Every `ctx.progress` report, oldest first (none are dropped or rate-limited here). */
  readonly progressReports: readonly ProgressRecord[];
  /**
   * Aborts `ctx.signal`, as the runtime does when the caller cancels.
   * @param reason @default CrankError CANCELLED "the caller cancelled the call"
   */
  abort(reason?: unknown): void;
}

/**
 * A handler context for calling a handler in-process, without a controller or a worker (like
 * Temporal's `MockActivityEnvironment`): an abortable signal, a deadline that aborts it, a pino
 * logger that records each line in `logs`, and request fields with test defaults. Timers it
 * sets are unref'd and cleared on abort.
 *
 * @example
 * ```ts
 * const ctx = mockContext({ timeoutMs: 1_000 });
 * const pending = handler({ text: 'abc' }, ctx);
 * ctx.abort();                 // as if the caller cancelled
 * await assert.rejects(pending);
 * console.log(ctx.logs);       // [{ level: 'info', msg: '...', requestId: '...' }]
 * ```
 */
export function mockContext(options: MockContextOptions = {}): MockHandlerContext {
  const abort = new AbortController();
  const logs: LogRecord[] = [];
  const capability = options.capability ?? 'test.capability';
  const version = options.version ?? '1.0.0';
  const requestId = options.requestId ?? randomUUID();
  const deadline =
    options.deadline ??
    (options.timeoutMs !== undefined ? new Date(Date.now() + options.timeoutMs) : undefined);

  let timer: NodeJS.Timeout | undefined;
  const onOuterAbort = (): void => abort.abort(options.signal?.reason);
  abort.signal.addEventListener(
    'abort',
    () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onOuterAbort);
    },
    { once: true },
  );
  if (options.signal?.aborted) abort.abort(options.signal.reason);
  else options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (deadline && !abort.signal.aborted) {
    timer = setTimeout(
      () => abort.abort(new CrankError('DEADLINE_EXCEEDED', 'the deadline passed before the call completed')),
      Math.max(0, Math.min(deadline.getTime() - Date.now(), 2 ** 31 - 1)),
    );
    timer.unref();
  }

  const logger = pino(
    {
      level: options.logLevel ?? 'trace',
      base: undefined,
      timestamp: false,
      formatters: { level: (label) => ({ level: label }) },
    },
    { write: (line: string) => void logs.push(JSON.parse(line) as LogRecord) },
  ).child({ capability, version, requestId });

  const client = options.client ?? missingClient();
  const progressReports: ProgressRecord[] = [];
  return {
    signal: abort.signal,
    deadline,
    logger,
    // A registry of its own per context: a handler's metrics are read from it in tests.
    metrics: new Registry(),
    capability,
    version,
    requestId,
    caller: options.caller ?? 'test-caller',
    workerId: options.workerId ?? 'test-worker',
    contentType: options.contentType ?? 'application/json',
    jobId: options.jobId,
    progress: (fraction: number, message = '') => void progressReports.push({ fraction, message }),
    progressReports,
    client,
    logs,
    abort: (reason?: unknown) =>
      abort.abort(reason ?? new CrankError('CANCELLED', 'the caller cancelled the call')),
  };
}

/** A stand-in client: its calls throw an Error that says how to give a real one. */
function missingClient(): CrankClient {
  const fail = (method: string) => (): never => {
    throw new Error(
      `ctx.client.${method}: this mock context has no client; pass mockContext({ client }) ` +
        '(e.g. the client of startTestCluster) to call other capabilities',
    );
  };
  const stub = {
    invoke: fail('invoke'),
    invokeStream: fail('invokeStream'),
    capabilities: fail('capabilities'),
    workers: fail('workers'),
    close: () => undefined,
    get raw(): never {
      return fail('raw')();
    },
  };
  // CrankClient has a private field, so no object literal is one; this stub has its whole API.
  return stub as unknown as CrankClient;
}
