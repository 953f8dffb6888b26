import { once } from 'node:events';
import { Metadata, type sendUnaryData, type ServerDuplexStream, type ServerUnaryCall } from '@grpc/grpc-js';
import { ContractViolationError, CrankError, isJsonMediaType, type Capability } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import {
  ACCEPTED_HEADER,
  Payload,
  StreamFrame,
  timerDelayMs,
  type ExecuteRequest,
  type ExecuteResponse,
  type WorkerServer,
} from '@crank/proto';
import type { Logger } from 'pino';
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

/**
 * The `crank.v1.Worker` service: runs handlers with validation, slots, deadlines and metrics. A
 * call's slot is freed the moment it is cancelled, runs out of time or is aborted by the drain
 * deadline, whether or not its handler notices: the caller gets its answer at once, and a handler
 * that ignores `ctx.signal` only wastes its own work.
 */
export function createExecuteService(deps: ExecuteServiceDeps): WorkerServer {
  // One drain listener for all calls rather than one per call: there may be thousands running.
  const running = new Set<AbortController>();
  deps.drainSignal.addEventListener(
    'abort',
    () => {
      for (const abort of running) abort.abort(new CrankError('UNAVAILABLE', 'worker drain deadline passed'));
    },
    { once: true },
  );

  /** Checks acceptance, takes a slot and builds the context; throws before anything was accepted. */
  const begin = (
    head: CallHead,
    call: IncomingCall,
    unary: boolean,
  ): { entry: SlotEntry; ctx: HandlerContext; finish: (error?: unknown) => void } => {
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
    call.sendMetadata(acceptedMetadata());
    const abort = new AbortController();
    running.add(abort);
    const deadline = toDate(call.getDeadline());
    let timer: NodeJS.Timeout | undefined;
    if (deadline) {
      timer = setTimeout(
        () =>
          abort.abort(new CrankError('DEADLINE_EXCEEDED', 'the deadline passed before the call completed')),
        timerDelayMs(deadline.getTime() - Date.now()),
      );
      timer.unref();
    }
    const onCancel = (): void => abort.abort(new CrankError('CANCELLED', 'the caller cancelled the call'));
    call.once('cancelled', onCancel);
    let logger: Logger | undefined;
    const progress = head.jobId
      ? new ProgressReporter(head.jobId, deps.progressSink, () => ctx.logger)
      : undefined;
    const ctx: HandlerContext = {
      signal: abort.signal,
      deadline,
      // Built on first use: most handlers never log, and a child logger costs an allocation.
      get logger() {
        logger ??= deps.logger.child({
          capability: capability.id,
          version: capability.version,
          requestId: head.requestId,
        });
        return logger;
      },
      capability: capability.id,
      version: capability.version,
      requestId: head.requestId,
      caller: head.caller,
      workerId: deps.workerId,
      contentType: head.contentType || JSON_TYPE,
      jobId: head.jobId,
      progress: (fraction, message) => progress?.report(fraction, message),
      get client() {
        return deps.client();
      },
      metrics: deps.metrics.registry,
    };
    const started = performance.now();
    let finished = false;
    const finish = (error?: unknown): void => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      progress?.end();
      call.removeListener('cancelled', onCancel);
      running.delete(abort);
      const outcome = error === undefined ? 'ok' : asCrankError(error).code;
      deps.slots.release(entry, error === undefined);
      deps.metrics.requests.inc({ capability: capability.id, version: capability.version, outcome });
      deps.metrics.duration.observe({ capability: capability.id }, (performance.now() - started) / 1e3);
      if (outcome === 'INTERNAL') ctx.logger.error({ event: 'handler_failed', err: error }, 'handler failed');
    };
    return { entry, ctx, finish };
  };

  /**
   * The error to send for a failed call: the abort reason when the call was aborted (the handler
   * may have thrown anything then); a handler's own contract error when its capability declares
   * the code; else a contract violation, logged where it happened.
   */
  const failureOf = (capability: Capability, ctx: HandlerContext, error: unknown): CrankError => {
    if (ctx.signal.aborted) return asCrankError(ctx.signal.reason);
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
        if (error) callback(statusOf(error), null);
        else callback(null, { output });
      };
      // Answered at once on cancel, deadline or drain, whether or not the handler stops.
      const onAbort = (): void => answer(asCrankError(ctx.signal.reason));
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      void (async () => {
        const input = decodeInput(capability, request.input);
        const result = await entry.served.handler(input as never, ctx);
        if (isAsyncIterable(result)) {
          throw new CrankError(
            'INTERNAL',
            `handler of "${capability.id}" returned a stream for a unary call`,
          );
        }
        return encodeOutput(capability, result);
      })().then(
        (output) => {
          ctx.signal.removeEventListener('abort', onAbort);
          answer(undefined, output);
        },
        (error: unknown) => {
          ctx.signal.removeEventListener('abort', onAbort);
          answer(failureOf(capability, ctx, error));
        },
      );
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

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
