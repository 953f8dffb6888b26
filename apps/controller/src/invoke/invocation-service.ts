import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { ContractViolationError, CrankError, type Capability } from '@crank/capabilities';
import { ACCEPTED_HEADER, ExecuteRequest, WIRE_LIMITS, echo, type Payload } from '@crank/proto';
import type { Logger } from 'pino';
import { readWorkerFailure, type WorkerFailure } from '../grpc/grpc-errors.js';
import type { ControllerMetrics } from '../metrics/controller-metrics.js';
import type { Lease, Router } from '../routing/router.js';
import type { WorkerConnections } from '../routing/worker-connections.js';
import type { ByteBudget } from './byte-budget.js';
import type { CallSignal } from './call-signal.js';
import { checkInput, isJson, parseJson } from './payloads.js';

/** A call as it reaches the controller, from gRPC or HTTP. */
export interface InvokeCall {
  capability: string;
  /** Semver range; empty means any. */
  range: string;
  input: Payload;
  requestId: string;
  /** Identity of the caller (certificate CN, or the HTTP key's name), passed to the worker. */
  caller: string;
  /** Absolute deadline in epoch ms. */
  deadlineMs?: number;
  signal?: CallSignal;
  /** The job this call is an attempt of: the worker's progress reports go to it. */
  jobId?: string;
  /** Called each time the call is sent to a worker (once, unless it is retried elsewhere). */
  onDispatched?: (workerId: string) => void;
  /** The call came from another controller: it is served here or fails, never forwarded again. */
  forwarded?: boolean;
}

/** Sends a call to another controller; undefined when none offers the capability. */
export interface CallForwarder {
  invoke(call: InvokeCall): Promise<InvokeResult | undefined>;
}

export interface InvokeResult {
  output: Payload;
  workerId: string;
  version: string;
}

export interface InvocationServiceOptions {
  router: Router;
  connections: WorkerConnections;
  metrics: ControllerMetrics;
  budget: ByteBudget;
  maxRetries: number;
  logger: Logger;
  /** Controllers sharing the store: where a call goes when no worker here offers it. */
  forwarder?: CallForwarder;
}

/**
 * Checks what every call must satisfy at the edge, before any work: a capability name and range
 * of sane length (they are echoed in errors), and a request id of sane length.
 *
 * @throws CrankError INVALID_INPUT naming the field
 */
export function checkCallNames(call: { capability: string; range: string; requestId: string }): void {
  if (!call.capability) throw new CrankError('INVALID_INPUT', 'capability: is required');
  if (call.capability.length > WIRE_LIMITS.maxCapabilityIdLength) {
    throw new CrankError(
      'INVALID_INPUT',
      `capability: must be at most ${WIRE_LIMITS.maxCapabilityIdLength} characters (got ${call.capability.length})`,
    );
  }
  if (call.range.length > WIRE_LIMITS.maxRangeLength) {
    throw new CrankError(
      'INVALID_INPUT',
      `version: must be at most ${WIRE_LIMITS.maxRangeLength} characters (got ${call.range.length})`,
    );
  }
  if (call.requestId.length > WIRE_LIMITS.maxRequestIdLength) {
    throw new CrankError(
      'INVALID_INPUT',
      `request id: must be at most ${WIRE_LIMITS.maxRequestIdLength} characters (got ${call.requestId.length})`,
    );
  }
}

/**
 * Unary calls through the controller: input checked against the capability before it leaves, a
 * worker chosen by the router, the call relayed with the caller's deadline and cancellation, the
 * output checked when it comes back. A call the worker never accepted is retried on another worker;
 * an accepted one only when the capability is idempotent.
 */
export class InvocationService {
  constructor(private readonly options: InvocationServiceOptions) {}

  async invoke(call: InvokeCall): Promise<InvokeResult> {
    const started = performance.now();
    let outcome = 'ok';
    let giveBack: (() => void) | undefined;
    try {
      checkCallNames(call);
      giveBack = this.options.budget.take(call.input.data.byteLength);
      return await this.route(call);
    } catch (error) {
      outcome = error instanceof CrankError ? error.code : 'INTERNAL';
      throw error;
    } finally {
      giveBack?.();
      this.options.metrics.recordRequest(call.capability, outcome, (performance.now() - started) / 1e3);
    }
  }

  private async route(call: InvokeCall): Promise<InvokeResult> {
    const { router, forwarder } = this.options;
    let resolved: Capability;
    try {
      resolved = router.resolve(call.capability, call.range);
    } catch (error) {
      // No worker here offers it: another controller sharing the store may have one (one hop).
      const elsewhere =
        forwarder &&
        !call.forwarded &&
        !call.jobId &&
        error instanceof CrankError &&
        (error.code === 'NOT_FOUND' || error.code === 'UNAVAILABLE')
          ? await forwarder.invoke(call)
          : undefined;
      if (elsewhere) return elsewhere;
      throw error;
    }
    if (resolved.definition.streaming !== 'none') {
      throw new CrankError(
        'FAILED_PRECONDITION',
        `capability "${resolved.id}" streams (${resolved.definition.streaming}); call InvokeStream ` +
          `or POST /v1/stream/${resolved.id}`,
        { details: { capability: resolved.id, streaming: resolved.definition.streaming } },
      );
    }
    checkInput(resolved, call.input);

    let tried: Set<string> | undefined;
    for (let attempt = 0; ; attempt++) {
      const lease = await router.acquire(call.capability, call.range, {
        deadlineMs: call.deadlineMs,
        signal: call.signal,
        exclude: tried,
      });
      if (lease.capability !== resolved) {
        try {
          checkInput(lease.capability, call.input);
        } catch (error) {
          lease.release('abandoned');
          throw error;
        }
      }
      call.onDispatched?.(lease.worker.id);
      const started = performance.now();
      const result = await this.execute(lease, call);
      const latencyMs = performance.now() - started;
      if (result.failure === undefined) {
        try {
          const checked = this.checkOutput(lease, result.output);
          lease.release('answered', latencyMs);
          return checked;
        } catch (error) {
          lease.release('fault', latencyMs, error instanceof CrankError ? error.code : 'INTERNAL');
          throw error;
        }
      }
      const { error, retryable, outcome } = result.failure;
      lease.release(outcome, latencyMs, error.code);
      if (error.code === 'CONTRACT_VIOLATION') this.contractViolation(lease, error);
      if (!retryable || attempt >= this.options.maxRetries) throw error;
      (tried ??= new Set()).add(lease.worker.id);
      this.options.metrics.retries.inc({ capability: lease.capability.id });
      this.options.logger.warn(
        {
          event: 'call_retried',
          capability: lease.capability.id,
          workerId: lease.worker.id,
          requestId: call.requestId,
          reason: error.message,
        },
        'retrying on another worker',
      );
    }
  }

  /** Sends the call to the leased worker; a failure is resolved, read (never rejected). */
  private execute(
    lease: Lease,
    call: InvokeCall,
  ): Promise<{ output: Payload; failure?: undefined } | { failure: WorkerFailure }> {
    const { connections } = this.options;
    const client = connections.acquire(lease.worker);
    const request = ExecuteRequest.fromPartial({
      capability: lease.capability.id,
      version: lease.capability.version,
      input: call.input,
      requestId: call.requestId,
      caller: call.caller,
      jobId: call.jobId ?? '',
    });
    return new Promise((resolve) => {
      let accepted = false;
      const grpcCall = client.execute(
        request,
        new Metadata(),
        call.deadlineMs === undefined ? {} : { deadline: call.deadlineMs },
        (error: ServiceError | null, response) => {
          call.signal?.removeEventListener('abort', onAbort);
          connections.done(lease.worker.id, client);
          if (!error) {
            resolve({ output: response.output ?? { contentType: '', data: Buffer.alloc(0) } });
            return;
          }
          resolve({
            failure: readWorkerFailure(error, {
              capability: lease.capability,
              workerId: lease.worker.id,
              // A call that fails in the turn it was accepted in says so in its trailers only.
              accepted: accepted || error.metadata?.get(ACCEPTED_HEADER).length > 0,
              callerAborted: call.signal?.aborted ?? false,
              deadlineMs: call.deadlineMs,
            }),
          });
        },
      );
      grpcCall.on('metadata', (metadata: Metadata) => {
        if (metadata.get(ACCEPTED_HEADER).length > 0) accepted = true;
      });
      const onAbort = (): void => grpcCall.cancel();
      call.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private checkOutput(lease: Lease, output: Payload): InvokeResult {
    const capability: Capability = lease.capability;
    if (isJson(output.contentType)) {
      try {
        capability.assertOutput(parseJson(output.data, 'output'));
      } catch (error) {
        const violation =
          error instanceof ContractViolationError
            ? error
            : new ContractViolationError(
                `worker "${lease.worker.id}" answered ${echo((error as Error).message, 300)}`,
              );
        this.contractViolation(lease, violation);
        throw violation;
      }
    }
    return { output, workerId: lease.worker.id, version: capability.version };
  }

  private contractViolation(lease: Lease, violation: CrankError): void {
    this.options.metrics.contractViolations.inc({ capability: lease.capability.id, worker: lease.worker.id });
    this.options.logger.warn(
      {
        event: 'contract_violation',
        capability: lease.capability.key,
        workerId: lease.worker.id,
        reason: violation.message,
      },
      'worker broke the capability contract',
    );
  }
}
