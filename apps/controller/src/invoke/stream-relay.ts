import { Metadata, type ClientDuplexStream, type ServerDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { CrankError, type Capability } from '@crank/capabilities';
import { StreamFrame, type Payload } from '@crank/proto';
import type { Logger } from 'pino';
import { deadlineOf, fromServiceError, toGrpcStatus } from '../grpc/grpc-errors.js';
import type { ControllerMetrics } from '../metrics/controller-metrics.js';
import type { Lease, Router } from '../routing/router.js';
import type { WorkerConnections } from '../routing/worker-connections.js';
import { isJson, parseJson } from './payloads.js';

export interface StreamRelayOptions {
  router: Router;
  connections: WorkerConnections;
  metrics: ControllerMetrics;
  logger: Logger;
}

/**
 * InvokeStream: the caller's first frame (`open`) picks a worker; then frames flow both ways with
 * back-pressure (a side that cannot keep up pauses the other). JSON records are checked against the
 * capability's schemas in each direction; byte chunks pass through untouched.
 */
export class StreamRelay {
  constructor(private readonly options: StreamRelayOptions) {}

  handle(caller: ServerDuplexStream<StreamFrame, StreamFrame>, callerId: string): void {
    const started = process.hrtime.bigint();
    let capabilityId = 'unknown';
    let finished = false;
    let lease: Lease | undefined;
    let worker: ClientDuplexStream<StreamFrame, StreamFrame> | undefined;
    const abort = new AbortController();

    const finish = (error?: unknown): void => {
      if (finished) return;
      finished = true;
      const outcome = error === undefined ? 'ok' : error instanceof CrankError ? error.code : 'INTERNAL';
      this.options.metrics.requests.inc({ capability: capabilityId, outcome });
      this.options.metrics.duration.observe(
        { capability: capabilityId },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
      const workerFault = error instanceof CrankError && error.code === 'CONTRACT_VIOLATION';
      lease?.release(workerFault ? 'failure' : 'success');
      if (error !== undefined) {
        worker?.cancel();
        caller.emit('error', toGrpcStatus(error));
      } else {
        caller.end();
      }
    };

    caller.on('cancelled', () => {
      abort.abort();
      worker?.cancel();
      finished = true;
      lease?.release('success');
    });
    caller.on('error', () => abort.abort());

    let opened = false;
    caller.on('data', (frame: StreamFrame) => {
      if (finished) return;
      try {
        if (!opened) {
          if (frame.frame?.$case !== 'open')
            throw new CrankError('INVALID_INPUT', 'stream: the first frame must be "open"');
          opened = true;
          caller.pause();
          const open = frame.frame.value;
          capabilityId = open.capability || 'unknown';
          this.connect(
            open.capability,
            open.version,
            caller,
            callerId,
            open.contentType,
            open.requestId,
            abort.signal,
          )
            .then((connected) => {
              if (finished) {
                connected.lease.release('success');
                connected.worker.cancel();
                return;
              }
              lease = connected.lease;
              worker = connected.worker;
              this.pipeWorker(connected.worker, connected.lease.capability, caller, finish);
              caller.write(
                StreamFrame.fromPartial({
                  frame: {
                    $case: 'accepted',
                    value: {
                      workerId: connected.lease.worker.id,
                      version: connected.lease.capability.version,
                    },
                  },
                }),
              );
              caller.resume();
            })
            .catch(finish);
          return;
        }
        if (!worker || !lease)
          throw new CrankError('INVALID_INPUT', 'stream: frame before the stream was accepted');
        if (frame.frame?.$case === 'chunk') checkRecord(lease.capability, frame.frame.value, 'input');
        if (!worker.write(frame)) {
          caller.pause();
          worker.once('drain', () => caller.resume());
        }
        if (frame.frame?.$case === 'end') worker.end();
      } catch (error) {
        finish(error);
      }
    });
    caller.on('end', () => {
      if (!finished && worker && !worker.writableEnded) worker.end();
    });
  }

  private async connect(
    capabilityId: string,
    range: string,
    caller: ServerDuplexStream<StreamFrame, StreamFrame>,
    callerId: string,
    contentType: string,
    requestId: string,
    signal: AbortSignal,
  ): Promise<{ lease: Lease; worker: ClientDuplexStream<StreamFrame, StreamFrame> }> {
    if (!capabilityId) throw new CrankError('INVALID_INPUT', 'open.capability: is required');
    const resolved = this.options.router.resolve(capabilityId, range);
    if (resolved.definition.streaming === 'none') {
      throw new CrankError(
        'FAILED_PRECONDITION',
        `capability "${capabilityId}" is not a streaming capability; call Invoke instead`,
      );
    }
    const deadlineMs = deadlineOf(caller);
    const lease = await this.options.router.acquire(capabilityId, range, { deadlineMs, signal });
    const { connections } = this.options;
    const client = connections.acquire(lease.worker);
    const worker = client.executeStream(
      new Metadata(),
      deadlineMs === undefined ? {} : { deadline: deadlineMs },
    );
    worker.on('status', () => connections.done(lease.worker.id, client));
    worker.write(
      StreamFrame.fromPartial({
        frame: {
          $case: 'open',
          value: {
            capability: capabilityId,
            version: lease.capability.version,
            contentType,
            requestId: requestId || callerId,
          },
        },
      }),
    );
    return { lease, worker };
  }

  private pipeWorker(
    worker: ClientDuplexStream<StreamFrame, StreamFrame>,
    capability: Capability,
    caller: ServerDuplexStream<StreamFrame, StreamFrame>,
    finish: (error?: unknown) => void,
  ): void {
    worker.on('data', (frame: StreamFrame) => {
      try {
        if (frame.frame?.$case === 'accepted') return;
        if (frame.frame?.$case === 'chunk') checkRecord(capability, frame.frame.value, 'output');
        if (!caller.write(frame)) {
          worker.pause();
          caller.once('drain', () => worker.resume());
        }
      } catch (error) {
        finish(error);
      }
    });
    worker.on('error', (error: ServiceError) => finish(fromServiceError(error).error));
    worker.on('end', () => finish());
  }
}

/** Checks one JSON record of a stream against the capability; byte chunks pass untouched. */
function checkRecord(capability: Capability, payload: Payload, direction: 'input' | 'output'): void {
  if (!isJson(payload.contentType)) return;
  if (direction === 'input') {
    capability.assertInput(parseJson(payload.data, 'input'));
    return;
  }
  let value: unknown;
  try {
    value = parseJson(payload.data, 'output');
  } catch (error) {
    throw new CrankError('CONTRACT_VIOLATION', `output record is not JSON: ${(error as Error).message}`);
  }
  capability.assertOutput(value);
}
