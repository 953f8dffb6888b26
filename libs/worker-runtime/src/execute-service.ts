import { once } from 'node:events';
import {
  Metadata,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type StatusObject,
} from '@grpc/grpc-js';
import { ContractViolationError, CrankError, isJsonMediaType, type Capability } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import {
  ACCEPTED_HEADER,
  Payload,
  StreamFrame,
  type ExecuteRequest,
  type ExecuteResponse,
  type WorkerServer,
} from '@crank/proto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { CapabilitySlots, SlotEntry } from './capability-slots.js';
import type { BinaryOutput, HandlerContext } from './handler.js';
import { asCrankError, statusOf } from './grpc-status.js';
import type { WorkerMetrics } from './worker-metrics.js';
import { ProgressReporter, type ProgressSink } from './progress-reporter.js';

const JSON_TYPE = 'application/json';

export interface ExecuteServiceDeps {
  workerId: string;
  slots: CapabilitySlots;
  metrics: WorkerMetrics;
  logger: Logger;
  /** Whether new calls are taken (false while draining). */
  accepting(): boolean;
  /** Whether a call comes from the controller (the only party that may run handlers). */
  fromController(call: { getPeer(): string }): boolean;
  /** Aborts every running handler (drain deadline passed). */
  drainSignal: AbortSignal;
  client(): CrankClient;
  /** Sends a job's progress report to the controller. */
  progressSink: ProgressSink;
}

/** The server side of a call, as much of it as {@link createExecuteService} uses. */
interface IncomingCall {
  readonly cancelled: boolean;
  getPeer(): string;
  getDeadline(): Date | number;
  once(event: 'cancelled', cb: () => void): unknown;
  removeListener(event: 'cancelled', cb: () => void): unknown;
  sendMetadata(m: Metadata): void;
}

/** What a call names before it is accepted. */
interface CallHead {
  capability: string;
  version: string;
  requestId: string;
  caller: string;
  contentType: string;
  /** Set when the call is an attempt of a job. */
  jobId?: string;
}

/** A unary call accepted in this turn of the event loop, not yet told the controller so. */
interface Unannounced {
  readonly call: IncomingCall;
  /** Answered already: its answer carried the news. */
  done: boolean;
  /** Starts listening for the call's cancellation (its deadline included). */
  watch: () => void;
}

/**
 * The context of one accepted call. A class rather than an object literal, so that its getters
 * live on the prototype; its AbortSignal is made on first use, because making one costs more than
 * the rest of a short call's bookkeeping and most handlers of short calls never look at it.
 */
class CallContext implements HandlerContext {
  /** Why the call was aborted (cancel, deadline, drain); undefined while it runs. */
  abortReason: CrankError | undefined;
  /** Told once when the call is aborted (the unary path answers at once). */
  onAbort: ((reason: CrankError) => void) | undefined;
  private controller: AbortController | undefined;
  private logger_: Logger | undefined;
  private progress_: ProgressReporter | undefined;
  /** Neighbours in {@link RunningCalls} while the call runs. */
  prev: CallContext | undefined;
  next: CallContext | undefined;

  constructor(
    private readonly deps: ExecuteServiceDeps,
    readonly capability: string,
    readonly version: string,
    readonly requestId: string,
    readonly caller: string,
    readonly contentType: string,
    readonly jobId: string | undefined,
    readonly deadline: Date | undefined,
  ) {
    if (jobId) this.progress_ = new ProgressReporter(jobId, deps.progressSink, () => this.logger);
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortReason) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get logger(): Logger {
    this.logger_ ??= this.deps.logger.child({
      capability: this.capability,
      version: this.version,
      requestId: this.requestId,
    });
    return this.logger_;
  }

  get workerId(): string {
    return this.deps.workerId;
  }

  get client(): CrankClient {
    return this.deps.client();
  }

  get metrics(): Registry {
    return this.deps.metrics.registry;
  }

  progress(fraction: number, message?: string): void {
    this.progress_?.report(fraction, message);
  }

  abort(reason: CrankError): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
    this.onAbort?.(reason);
  }

  /** The call ended: no more progress reports. */
  end(): void {
    this.progress_?.end();
  }
}

/**
 * The calls running now, linked through their contexts. Not a Set: a Set that gains and loses an
 * entry per call is rebuilt now and then, and once its table lives in V8's old generation every
 * rebuild leaves a dead old table pointing at each call, which then survives young collections
 * with its whole object graph (see keepStreamTablesYoung in @crank/proto).
 */
class RunningCalls {
  private head: CallContext | undefined;

  add(ctx: CallContext): void {
    ctx.next = this.head;
    if (this.head) this.head.prev = ctx;
    this.head = ctx;
  }

  delete(ctx: CallContext): void {
    if (ctx.prev) ctx.prev.next = ctx.next;
    else if (this.head === ctx) this.head = ctx.next;
    if (ctx.next) ctx.next.prev = ctx.prev;
    ctx.prev = undefined;
    ctx.next = undefined;
  }

  /** Calls `fn` for each running call; `fn` may end the call it is given. */
  forEach(fn: (ctx: CallContext) => void): void {
    for (let ctx = this.head; ctx;) {
      const next = ctx.next;
      fn(ctx);
      ctx = next;
    }
  }
}

/**
 * The `crank.v1.Worker` service: runs handlers with validation, slots, deadlines and metrics. A
 * call's slot is freed the moment it is cancelled, runs out of time or is aborted by the drain
 * deadline, whether or not its handler notices: the caller gets its answer at once, and a handler
 * that ignores `ctx.signal` only wastes its own work.
 */
export function createExecuteService(deps: ExecuteServiceDeps): WorkerServer {
  // One drain listener for all calls rather than one per call: there may be thousands running.
  const running = new RunningCalls();
  deps.drainSignal.addEventListener(
    'abort',
    () => running.forEach((ctx) => ctx.abort(new CrankError('UNAVAILABLE', 'worker drain deadline passed'))),
    { once: true },
  );

  // A unary call tells the controller it was accepted ("do not send this elsewhere") with a
  // header. Sending that header on its own costs a write of its own per call; a call answered
  // within the same turn of the event loop carries the news in its answer (headers, or the
  // trailers of an error) instead, so only calls still running at the next turn send it alone.
  // That is when the header would have left the process anyway: HTTP/2 writes are flushed there.
  // Such a call starts listening for its cancellation then too: a cancel is read from the network
  // in a later turn, so a call answered in this one cannot miss it, and a listener added and
  // removed per call costs as much as the rest of a short call's bookkeeping.
  let unannounced: Unannounced[] = [];
  const announce = (): void => {
    const batch = unannounced;
    unannounced = [];
    for (const pending of batch) {
      if (pending.done) continue;
      pending.call.sendMetadata(acceptedMetadata());
      pending.watch();
    }
  };

  /** Checks acceptance, takes a slot and builds the context; throws before anything was accepted. */
  const begin = (
    head: CallHead,
    call: IncomingCall,
    unary: boolean,
  ): { entry: SlotEntry; ctx: CallContext; finish: (error?: unknown) => void } => {
    if (!deps.fromController(call)) {
      throw new CrankError('PERMISSION_DENIED', 'only the controller may call a worker directly');
    }
    if (!deps.accepting()) throw new CrankError('UNAVAILABLE', `worker "${deps.workerId}" is draining`);
    const entry = deps.slots.find(head.capability, head.version);
    const capability = entry.served.capability;
    if (unary && capability.definition.streaming !== 'none') {
      throw new CrankError(
        'FAILED_PRECONDITION',
        `capability "${capability.id}" streams (${capability.definition.streaming}); call ExecuteStream`,
      );
    }
    if (!capability.acceptsMediaType(head.contentType)) {
      throw new CrankError(
        'UNSUPPORTED_FORMAT',
        `content-type: ${capability.id} takes ${[JSON_TYPE, ...capability.definition.inputMediaTypes].join(', ')} (got "${head.contentType.slice(0, 100)}")`,
      );
    }
    deps.slots.acquire(entry);
    const deadline = toDate(call.getDeadline());
    const ctx = new CallContext(
      deps,
      capability.id,
      capability.version,
      head.requestId,
      head.caller,
      head.contentType || JSON_TYPE,
      head.jobId,
      deadline,
    );
    running.add(ctx);
    // grpc-js cancels a call whose deadline passes (and answers DEADLINE_EXCEEDED itself), so no
    // timer of our own is needed: a cancel at or past the deadline is the deadline.
    const onCancel = (): void =>
      ctx.abort(
        deadline && Date.now() >= deadline.getTime()
          ? new CrankError('DEADLINE_EXCEEDED', 'the deadline passed before the call completed')
          : new CrankError('CANCELLED', 'the caller cancelled the call'),
      );
    let watching = false;
    const watch = (): void => {
      watching = true;
      call.once('cancelled', onCancel);
      if (call.cancelled) onCancel();
    };
    let pending: Unannounced | undefined;
    if (unary) {
      pending = { call, done: false, watch };
      if (unannounced.push(pending) === 1) setImmediate(announce);
    } else {
      watch();
    }
    const started = performance.now();
    let finished = false;
    const finish = (error?: unknown): void => {
      if (finished) return;
      finished = true;
      if (pending) pending.done = true;
      ctx.end();
      if (watching) call.removeListener('cancelled', onCancel);
      running.delete(ctx);
      const outcome = error === undefined ? 'ok' : asCrankError(error).code;
      deps.slots.release(entry, error === undefined);
      deps.metrics.recordCall(capability, outcome, (performance.now() - started) / 1e3);
      if (outcome === 'INTERNAL') ctx.logger.error({ event: 'handler_failed', err: error }, 'handler failed');
    };
    return { entry, ctx, finish };
  };

  /**
   * The error to send for a failed call: the abort reason when the call was aborted (the handler
   * may have thrown anything then); a handler's own contract error when its capability declares
   * the code; else a contract violation, logged where it happened.
   */
  const failureOf = (capability: Capability, ctx: CallContext, error: unknown): CrankError => {
    if (ctx.abortReason) return ctx.abortReason;
    if (!(error instanceof CrankError)) return asCrankError(error);
    if (capability.mayFailWith(error.code, 'handler') || error instanceof ContractViolationError)
      return error;
    const undeclared = new ContractViolationError(
      `handler of ${capability.key} failed with ${error.code}, which the capability does not declare (errorCodes)`,
      [],
      { details: { capability: capability.id, code: error.code }, cause: error },
    );
    ctx.logger.error(
      { event: 'undeclared_error_code', code: error.code, err: error },
      'handler failed with an error code its capability does not declare',
    );
    return undeclared;
  };

  return {
    execute(
      call: ServerUnaryCall<ExecuteRequest, ExecuteResponse>,
      callback: sendUnaryData<ExecuteResponse>,
    ): void {
      const request = call.request;
      let started: ReturnType<typeof begin>;
      try {
        started = begin(
          {
            capability: request.capability,
            version: request.version,
            requestId: request.requestId,
            caller: request.caller,
            contentType: request.input?.contentType ?? '',
            jobId: request.jobId || undefined,
          },
          call,
          true,
        );
      } catch (error) {
        callback(statusOf(error), null);
        return;
      }
      const { entry, ctx, finish } = started;
      const capability = entry.served.capability;
      let answered = false;
      const answer = (error: CrankError | undefined, output?: Payload): void => {
        if (answered) return;
        answered = true;
        finish(error);
        if (error) callback(acceptedStatusOf(error), null);
        else callback(null, { output });
      };
      // Answered at once on cancel, deadline or drain, whether or not the handler stops.
      ctx.onAbort = (reason) => answer(reason);
      let result: unknown;
      try {
        result = entry.served.handler(decodeInput(capability, request.input) as never, ctx);
      } catch (error) {
        answer(failureOf(capability, ctx, error));
        return;
      }
      const settle = (value: unknown): void => {
        if (answered) return;
        try {
          if (isAsyncIterable(value)) {
            throw new CrankError(
              'INTERNAL',
              `handler of "${capability.id}" returned a stream for a unary call`,
            );
          }
          answer(undefined, encodeOutput(capability, value));
        } catch (error) {
          answer(failureOf(capability, ctx, error));
        }
      };
      if (isPromiseLike(result)) {
        result.then(settle, (error: unknown) => answer(failureOf(capability, ctx, error)));
      } else {
        settle(result);
      }
    },

    executeStream(call: ServerDuplexStream<StreamFrame, StreamFrame>): void {
      void runStream(call).catch((error: unknown) => {
        if (!call.cancelled) call.emit('error', statusOf(error));
      });
    },
  };

  async function runStream(call: ServerDuplexStream<StreamFrame, StreamFrame>): Promise<void> {
    const frames = call[Symbol.asyncIterator]() as AsyncIterator<StreamFrame>;
    const first = await frames.next();
    const open = first.done ? undefined : (first.value as StreamFrame).frame;
    if (open?.$case !== 'open')
      throw new CrankError('INVALID_INPUT', 'stream: the first frame must be "open"');
    const { entry, ctx, finish } = begin(
      {
        capability: open.value.capability,
        version: open.value.version,
        requestId: open.value.requestId,
        caller: open.value.caller,
        contentType: open.value.contentType,
      },
      call,
      false,
    );
    const capability = entry.served.capability;
    const mode = capability.definition.streaming;
    const signal = ctx.signal;
    let outputs: AsyncIterator<unknown> | Iterator<unknown> | undefined;
    try {
      await write(call, acceptedFrame(deps.workerId, capability.version), signal);
      // Records are pulled one at a time from the transport: a slow handler slows the sender.
      async function* records(): AsyncGenerator<unknown> {
        for (;;) {
          const next = await untilAborted(frames.next(), signal);
          if (next.done) return;
          const frame = (next.value as StreamFrame).frame;
          if (frame?.$case === 'end') return;
          if (frame?.$case !== 'chunk') continue;
          if (!capability.acceptsMediaType(frame.value.contentType)) {
            throw new CrankError(
              'UNSUPPORTED_FORMAT',
              `chunk: ${capability.id} does not take "${frame.value.contentType}"`,
            );
          }
          yield decodeInput(capability, frame.value);
        }
      }
      let input: unknown = records();
      if (mode === 'none' || mode === 'output') {
        const single = await (input as AsyncGenerator<unknown>).next();
        if (single.done) throw new CrankError('INVALID_INPUT', 'stream: no input record before the end');
        input = single.value;
      }
      const result = await untilAborted(Promise.resolve(entry.served.handler(input as never, ctx)), signal);
      const iterator: AsyncIterator<unknown> | Iterator<unknown> = isAsyncIterable(result)
        ? result[Symbol.asyncIterator]()
        : ([result] as unknown[])[Symbol.iterator]();
      outputs = iterator;
      for (;;) {
        const next = await untilAborted(Promise.resolve(iterator.next()), signal);
        if (next.done) break;
        await write(call, chunkFrame(encodeOutput(capability, next.value)), signal);
      }
      await write(call, StreamFrame.fromPartial({ frame: { $case: 'end', value: {} } }), signal);
      finish();
      call.end();
    } catch (error) {
      // A generator left waiting (on input, or on a handler that ignores the signal) is told to
      // stop; nothing waits for it.
      void Promise.resolve(outputs?.return?.()).catch(() => undefined);
      const failure = failureOf(capability, ctx, error);
      finish(failure);
      throw failure;
    }
  }
}

/** Writes a frame; when the transport is full, waits for it to drain or for the call to end. */
async function write(
  call: ServerDuplexStream<StreamFrame, StreamFrame>,
  frame: StreamFrame,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) throw signal.reason;
  if (call.write(frame)) return;
  try {
    await once(call, 'drain', { signal });
  } catch (error) {
    throw signal.aborted ? signal.reason : error;
  }
}

/** Settles as `promise` does, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}

/** The status of a call that failed after it was accepted: its trailers say it was. */
function acceptedStatusOf(error: unknown): Partial<StatusObject> {
  const status = statusOf(error);
  status.metadata?.set(ACCEPTED_HEADER, '1');
  return status;
}

function acceptedMetadata(): Metadata {
  const metadata = new Metadata();
  metadata.set(ACCEPTED_HEADER, '1');
  return metadata;
}

function acceptedFrame(workerId: string, version: string): StreamFrame {
  return StreamFrame.fromPartial({ frame: { $case: 'accepted', value: { workerId, version } } });
}

function chunkFrame(payload: Payload): StreamFrame {
  return StreamFrame.fromPartial({ frame: { $case: 'chunk', value: payload } });
}

function toDate(deadline: Date | number): Date | undefined {
  if (deadline instanceof Date) return deadline;
  return Number.isFinite(deadline) ? new Date(deadline) : undefined;
}

/** JSON inputs are parsed and checked against the input schema; bytes arrive as a Buffer. */
function decodeInput(capability: Capability, payload: Payload | undefined): unknown {
  const data = payload
    ? Buffer.from(payload.data.buffer, payload.data.byteOffset, payload.data.byteLength)
    : Buffer.alloc(0);
  if (payload && !isJsonMediaType(payload.contentType)) return data;
  let value: unknown;
  try {
    value = data.length === 0 ? null : (JSON.parse(data.toString('utf8')) as unknown);
  } catch (error) {
    throw new CrankError('INVALID_INPUT', `input: is not valid JSON (${(error as Error).message})`);
  }
  return capability.assertInput(value);
}

/** Checks JSON outputs against the output schema before they leave (CONTRACT_VIOLATION). */
function encodeOutput(capability: Capability, value: unknown): Payload {
  if (value instanceof Uint8Array)
    return Payload.fromPartial({ contentType: 'application/octet-stream', data: toBuffer(value) });
  if (isBinaryOutput(value))
    return Payload.fromPartial({ contentType: value.contentType, data: toBuffer(value.data) });
  capability.assertOutput(value);
  return Payload.fromPartial({ contentType: JSON_TYPE, data: Buffer.from(JSON.stringify(value)) });
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function isBinaryOutput(value: unknown): value is BinaryOutput {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as BinaryOutput).data instanceof Uint8Array &&
    typeof (value as BinaryOutput).contentType === 'string'
  );
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
