import { Metadata, type ClientDuplexStream, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { ContractViolationError, CrankError, type Capability } from '@crank/capabilities';
import { StreamFrame, type Payload } from '@crank/proto';
import type { Logger } from 'pino';
import { deadlineOf, readWorkerFailure, toGrpcStatus } from '../grpc/grpc-errors.js';
import type { ControllerMetrics } from '../metrics/controller-metrics.js';
import type { Lease, LeaseOutcome, Router } from '../routing/router.js';
import type { WorkerConnections } from '../routing/worker-connections.js';
import { checkCallNames } from './invocation-service.js';
import { checkInput, isJson, parseJson, unsupportedMediaType } from './payloads.js';

export interface StreamRelayOptions {
  router: Router;
  connections: WorkerConnections;
  metrics: ControllerMetrics;
  logger: Logger;
}

/**
 * The caller's side of a stream, as much of it as the relay uses: a gRPC InvokeStream call
 * (`ServerDuplexStream`), or the HTTP stream route's adapter (`http/http-stream-caller.ts`).
 * Frames come in as `data`, go out with `write` (false: wait for `drain`); a failure is emitted
 * as `error` with the gRPC status of the contract error, unless the caller already cancelled.
 */
export interface RelayCaller {
  readonly cancelled: boolean;
  getDeadline(): Date | number;
  on(event: 'data', listener: (frame: StreamFrame) => void): unknown;
  on(event: 'cancelled' | 'end', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  write(frame: StreamFrame): boolean;
  once(event: 'drain', listener: () => void): unknown;
  removeListener(event: 'drain', listener: () => void): unknown;
  end(): unknown;
  emit(event: 'error', status: Partial<StatusObject>): boolean;
}

type CallerStream = RelayCaller;
type WorkerStream = ClientDuplexStream<StreamFrame, StreamFrame>;

/**
 * Moves frames from one stream to another with back-pressure: when `to` is full, `from` pauses
 * until `to` drains. {@link stop} removes the pending drain listener, so a relay that ends while
 * paused leaves nothing behind.
 */
class Forwarder {
  private onDrain: (() => void) | undefined;

  constructor(
    private readonly from: { pause(): void; resume(): void },
    private readonly to: {
      write(frame: StreamFrame): boolean;
      once(e: 'drain', f: () => void): void;
      removeListener(e: 'drain', f: () => void): void;
    },
  ) {}

  write(frame: StreamFrame): void {
    if (this.to.write(frame) || this.onDrain) return;
    this.from.pause();
    this.onDrain = () => {
      this.onDrain = undefined;
      this.from.resume();
    };
    this.to.once('drain', this.onDrain);
  }

  stop(): void {
    if (this.onDrain) this.to.removeListener('drain', this.onDrain);
    this.onDrain = undefined;
  }
}

/**
 * InvokeStream: the caller's first frame (`open`) picks a worker; then frames flow both ways with
 * back-pressure (a side that cannot keep up pauses the other). JSON records are checked against the
 * capability's schemas in each direction; byte chunks pass through untouched. Every frame moved
 * counts as progress of the worker (a long stream is not a stuck worker). The stream ends once:
 * on the worker's end, an error on either side, or the caller's cancel, and the slot is freed then.
 */
export class StreamRelay {
  constructor(private readonly options: StreamRelayOptions) {}

  handle(caller: CallerStream, callerId: string): void {
    const started = process.hrtime.bigint();
    const { metrics, router } = this.options;
    let capabilityId = '';
    let finished = false;
    let lease: Lease | undefined;
    let worker: WorkerStream | undefined;
    let toWorker: Forwarder | undefined;
    let toCaller: Forwarder | undefined;
    const abort = new AbortController();

    const finish = (outcome: LeaseOutcome, error?: unknown): void => {
      if (finished) return;
      finished = true;
      abort.abort();
      toWorker?.stop();
      toCaller?.stop();
      const code = error === undefined ? 'ok' : error instanceof CrankError ? error.code : 'INTERNAL';
      metrics.recordRequest(capabilityId, code, Number(process.hrtime.bigint() - started) / 1e9);
      lease?.release(outcome, undefined, code);
      if (error !== undefined) {
        worker?.cancel();
        if (!caller.cancelled) caller.emit('error', toGrpcStatus(error));
      } else {
        caller.end();
      }
    };

    caller.on('cancelled', () =>
      finish('abandoned', new CrankError('CANCELLED', 'the caller cancelled the stream')),
    );
    caller.on('error', () => finish('abandoned'));

    const onWorkerFrame = (frame: StreamFrame): void => {
      if (finished || !lease) return;
      lease.progress();
      try {
        if (frame.frame?.$case === 'accepted') return;
        if (frame.frame?.$case === 'chunk') checkOutputRecord(lease.capability, frame.frame.value);
      } catch (error) {
        if (error instanceof CrankError)
          metrics.contractViolations.inc({ capability: lease.capability.id, worker: lease.worker.id });
        finish('fault', error);
        return;
      }
      toCaller?.write(frame);
    };

    const open = async (frame: StreamFrame['frame']): Promise<void> => {
      if (frame?.$case !== 'open')
        throw new CrankError('INVALID_INPUT', 'stream: the first frame must be "open"');
      const { capability, version, contentType, requestId } = frame.value;
      capabilityId = capability;
      checkCallNames({ capability, range: version, requestId });
      const resolved = router.resolve(capability, version);
      if (resolved.definition.streaming === 'none') {
        throw new CrankError(
          'FAILED_PRECONDITION',
          `capability "${capability}" is not a streaming capability; call Invoke instead`,
        );
      }
      if (!resolved.acceptsMediaType(contentType)) throw unsupportedMediaType(resolved, contentType);
      const deadlineMs = deadlineOf(caller);
      const acquired = await router.acquire(capability, version, { deadlineMs, signal: abort.signal });
      if (finished) {
        acquired.release('abandoned');
        return;
      }
      lease = acquired;
      const { connections } = this.options;
      const client = connections.acquire(acquired.worker);
      const stream: WorkerStream = client.executeStream(
        new Metadata(),
        deadlineMs === undefined ? {} : { deadline: deadlineMs },
      );
      worker = stream;
      toWorker = new Forwarder(caller, stream);
      toCaller = new Forwarder(stream, caller);
      let accepted = false;
      stream.on('status', () => connections.done(acquired.worker.id, client));
      stream.on('data', (f: StreamFrame) => {
        if (f.frame?.$case === 'accepted') accepted = true;
        onWorkerFrame(f);
      });
      stream.on('error', (error: ServiceError) => {
        const failure = readWorkerFailure(error, {
          capability: acquired.capability,
          workerId: acquired.worker.id,
          accepted,
          callerAborted: false,
        });
        if (failure.error.code === 'CONTRACT_VIOLATION')
          metrics.contractViolations.inc({ capability: acquired.capability.id, worker: acquired.worker.id });
        finish(failure.outcome, failure.error);
      });
      stream.on('end', () => finish('answered'));
      stream.write(
        StreamFrame.fromPartial({
          frame: {
            $case: 'open',
            value: {
              capability,
              version: acquired.capability.version,
              contentType,
              requestId,
              caller: callerId,
            },
          },
        }),
      );
      caller.write(
        StreamFrame.fromPartial({
          frame: {
            $case: 'accepted',
            value: { workerId: acquired.worker.id, version: acquired.capability.version },
          },
        }),
      );
      caller.resume();
    };

    let opened = false;
    caller.on('data', (frame: StreamFrame) => {
      if (finished) return;
      if (!opened) {
        opened = true;
        caller.pause();
        open(frame.frame).catch((error: unknown) => finish('abandoned', error));
        return;
      }
      if (!worker || !lease || !toWorker) {
        finish('abandoned', new CrankError('INVALID_INPUT', 'stream: frame before the stream was accepted'));
        return;
      }
      try {
        if (frame.frame?.$case === 'chunk') checkInput(lease.capability, frame.frame.value);
        else if (frame.frame?.$case === 'open') {
          throw new CrankError('INVALID_INPUT', 'stream: "open" may only be the first frame');
        }
      } catch (error) {
        finish('abandoned', error);
        return;
      }
      lease.progress();
      toWorker.write(frame);
      if (frame.frame?.$case === 'end') worker.end();
    });
    caller.on('end', () => {
      if (!finished && worker && !worker.writableEnded) worker.end();
    });
  }
}

/** Checks one JSON output record against the capability; byte chunks pass untouched. */
function checkOutputRecord(capability: Capability, payload: Payload): void {
  if (!isJson(payload.contentType)) return;
  let value: unknown;
  try {
    value = parseJson(payload.data, 'output');
  } catch (error) {
    throw new ContractViolationError(`output record is not JSON: ${(error as Error).message}`);
  }
  capability.assertOutput(value);
}
