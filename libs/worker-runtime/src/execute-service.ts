import { Metadata, type sendUnaryData, type ServerDuplexStream, type ServerUnaryCall } from '@grpc/grpc-js';
import { CrankError, type Capability } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import {
  Payload,
  StreamFrame,
  type ExecuteRequest,
  type ExecuteResponse,
  type WorkerServer,
} from '@crank/proto';
import type { Logger } from 'pino';
import type { CapabilitySlots, SlotEntry } from './capability-slots.js';
import type { BinaryOutput, HandlerContext } from './handler.js';
import { asCrankError, statusOf } from './grpc-status.js';
import type { WorkerMetrics } from './worker-metrics.js';

/** Header sent first on every accepted call: the controller must not resend it elsewhere. */
export const ACCEPTED_HEADER = 'crank-accepted';
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
}

/** The server side of a call, as much of it as {@link createExecuteService} uses. */
interface IncomingCall {
  getPeer(): string;
  getDeadline(): Date | number;
  once(event: 'cancelled', cb: () => void): unknown;
  removeListener(event: 'cancelled', cb: () => void): unknown;
  sendMetadata(m: Metadata): void;
}

/** The `crank.v1.Worker` service: runs handlers with validation, slots, deadlines and metrics. */
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
    capabilityId: string,
    version: string,
    requestId: string,
    caller: string,
    call: IncomingCall,
  ): { entry: SlotEntry; ctx: HandlerContext; finish: (error?: unknown) => void } => {
    if (!deps.fromController(call)) {
      throw new CrankError('PERMISSION_DENIED', 'only the controller may call a worker directly');
    }
    if (!deps.accepting()) throw new CrankError('UNAVAILABLE', `worker "${deps.workerId}" is draining`);
    const entry = deps.slots.find(capabilityId, version);
    deps.slots.acquire(entry);
    call.sendMetadata(acceptedMetadata());
    const abort = new AbortController();
    running.add(abort);
    const deadline = toDate(call.getDeadline());
    let timer: NodeJS.Timeout | undefined;
    if (deadline) {
      timer = setTimeout(
        () => abort.abort(new CrankError('DEADLINE_EXCEEDED', 'deadline passed')),
        Math.max(0, deadline.getTime() - Date.now()),
      );
      timer.unref();
    }
    const onCancel = (): void => abort.abort(new CrankError('CANCELLED', 'the caller cancelled the call'));
    call.once('cancelled', onCancel);
    const capability = entry.served.capability;
    let logger: Logger | undefined;
    const ctx: HandlerContext = {
      signal: abort.signal,
      deadline,
      // Built on first use: most handlers never log, and a child logger costs an allocation.
      get logger() {
        logger ??= deps.logger.child({ capability: capability.id, version: capability.version, requestId });
        return logger;
      },
      capability: capability.id,
      version: capability.version,
      requestId,
      caller,
      workerId: deps.workerId,
      get client() {
        return deps.client();
      },
    };
    const started = performance.now();
    let finished = false;
    const finish = (error?: unknown): void => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
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

  return {
    execute(
      call: ServerUnaryCall<ExecuteRequest, ExecuteResponse>,
      callback: sendUnaryData<ExecuteResponse>,
    ): void {
      const request = call.request;
      let started: ReturnType<typeof begin>;
      try {
        started = begin(request.capability, request.version, request.requestId, request.caller, call);
      } catch (error) {
        callback(statusOf(error), null);
        return;
      }
      const { entry, ctx, finish } = started;
      const capability = entry.served.capability;
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
          finish();
          callback(null, { output });
        },
        (error: unknown) => {
          finish(error);
          callback(
            statusOf(ctx.signal.aborted && !(error instanceof CrankError) ? ctx.signal.reason : error),
            null,
          );
        },
      );
    },

    executeStream(call: ServerDuplexStream<StreamFrame, StreamFrame>): void {
      void runStream(call).catch((error: unknown) => call.emit('error', statusOf(error)));
    },
  };

  async function runStream(call: ServerDuplexStream<StreamFrame, StreamFrame>): Promise<void> {
    const frames = call[Symbol.asyncIterator]() as AsyncIterator<StreamFrame>;
    const first = await frames.next();
    const open = first.done ? undefined : (first.value as StreamFrame).frame;
    if (open?.$case !== 'open')
      throw new CrankError('INVALID_INPUT', 'stream: the first frame must be "open"');
    const { entry, ctx, finish } = begin(
      open.value.capability,
      open.value.version,
      open.value.requestId,
      '',
      call,
    );
    const capability = entry.served.capability;
    const mode = capability.definition.streaming;
    try {
      call.write(
        StreamFrame.fromPartial({
          frame: { $case: 'accepted', value: { workerId: deps.workerId, version: capability.version } },
        }),
      );
      // Records are pulled one at a time from the transport: a slow handler slows the sender.
      async function* records(): AsyncGenerator<unknown> {
        for (;;) {
          const next = await frames.next();
          if (next.done) return;
          const frame = (next.value as StreamFrame).frame;
          if (frame?.$case === 'end') return;
          if (frame?.$case === 'chunk') yield decodeInput(capability, frame.value);
        }
      }
      let input: unknown = records();
      if (mode === 'none' || mode === 'output') {
        const single = await (input as AsyncGenerator<unknown>).next();
        if (single.done) throw new CrankError('INVALID_INPUT', 'stream: no input record before the end');
        input = single.value;
      }
      const result = await entry.served.handler(input as never, ctx);
      const outputs: AsyncIterable<unknown> | Iterable<unknown> = isAsyncIterable(result) ? result : [result];
      for await (const item of outputs) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        const chunk = StreamFrame.fromPartial({
          frame: { $case: 'chunk', value: encodeOutput(capability, item) },
        });
        if (!call.write(chunk)) await new Promise<void>((resolve) => call.once('drain', resolve));
      }
      call.write(StreamFrame.fromPartial({ frame: { $case: 'end', value: {} } }));
      finish();
      call.end();
    } catch (error) {
      finish(error);
      throw ctx.signal.aborted && !(error instanceof CrankError) ? ctx.signal.reason : error;
    }
  }
}

function acceptedMetadata(): Metadata {
  const metadata = new Metadata();
  metadata.set(ACCEPTED_HEADER, '1');
  return metadata;
}

function toDate(deadline: Date | number): Date | undefined {
  if (deadline instanceof Date) return deadline;
  return Number.isFinite(deadline) ? new Date(deadline) : undefined;
}

function isJson(contentType: string): boolean {
  return contentType === '' || /^application\/(.+\+)?json\b/.test(contentType);
}

/** JSON inputs are parsed and checked against the input schema; bytes arrive as a Buffer. */
function decodeInput(capability: Capability, payload: Payload | undefined): unknown {
  const data = payload
    ? Buffer.from(payload.data.buffer, payload.data.byteOffset, payload.data.byteLength)
    : Buffer.alloc(0);
  if (payload && !isJson(payload.contentType)) return data;
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
