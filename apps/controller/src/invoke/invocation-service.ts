import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { ContractViolationError, CrankError, type Capability } from '@crank/capabilities';
import { ExecuteRequest, type Payload } from '@crank/proto';
import type { Logger } from 'pino';
import { fromServiceError } from '../grpc/grpc-errors.js';
import type { ControllerMetrics } from '../metrics/controller-metrics.js';
import type { Lease, Router } from '../routing/router.js';
import type { WorkerConnections } from '../routing/worker-connections.js';
import { checkInput, isJson, parseJson } from './payloads.js';

/** A call as it reaches the controller, from gRPC or HTTP. */
export interface InvokeCall {
  capability: string;
  /** Semver range; empty means any. */
  range: string;
  input: Payload;
  requestId: string;
  /** Identity of the caller (certificate CN), passed to the worker. */
  caller: string;
  /** Absolute deadline in epoch ms. */
  deadlineMs?: number;
  signal?: AbortSignal;
}

export interface InvokeResult {
  output: Payload;
  workerId: string;
  version: string;
}

/** Header a worker sends first on every call it accepts; its arrival means "do not resend". */
export const ACCEPTED_HEADER = 'crank-accepted';

export interface InvocationServiceOptions {
  router: Router;
  connections: WorkerConnections;
  metrics: ControllerMetrics;
  maxRetries: number;
  logger: Logger;
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
    const started = process.hrtime.bigint();
    let outcome = 'ok';
    try {
      return await this.route(call);
    } catch (error) {
      outcome = error instanceof CrankError ? error.code : 'INTERNAL';
      throw error;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const capability = call.capability || 'unknown';
      this.options.metrics.requests.inc({ capability, outcome });
      this.options.metrics.duration.observe({ capability }, seconds);
    }
  }

  private async route(call: InvokeCall): Promise<InvokeResult> {
    if (!call.capability) throw new CrankError('INVALID_INPUT', 'capability: is required');
    const { router } = this.options;
    const resolved = router.resolve(call.capability, call.range);
    checkInput(resolved, call.input);

    const tried = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      const lease = await router.acquire(call.capability, call.range, {
        deadlineMs: call.deadlineMs,
        signal: call.signal,
        exclude: tried,
      });
      if (lease.capability.version !== resolved.version) {
        try {
          checkInput(lease.capability, call.input);
        } catch (error) {
          lease.release('success');
          throw error;
        }
      }
      const started = performance.now();
      const result = await this.execute(lease, call).catch((error: unknown) => ({ error }));
      const latencyMs = performance.now() - started;
      if (!('error' in result)) {
        lease.release('success', latencyMs);
        return this.checkOutput(lease, result.output);
      }
      const { error, retryable, workerFault } = result.error as ExecuteFailure;
      lease.release(workerFault ? 'failure' : 'success', workerFault ? undefined : latencyMs);
      if (error.code === 'CONTRACT_VIOLATION') {
        this.options.metrics.contractViolations.inc({ capability: call.capability, worker: lease.worker.id });
      }
      if (!retryable || attempt >= this.options.maxRetries) throw error;
      tried.add(lease.worker.id);
      this.options.metrics.retries.inc({ capability: call.capability });
      this.options.logger.warn(
        {
          event: 'call_retried',
          capability: call.capability,
          workerId: lease.worker.id,
          requestId: call.requestId,
          reason: error.message,
        },
        'retrying on another worker',
      );
    }
  }

  private execute(lease: Lease, call: InvokeCall): Promise<{ output: Payload }> {
    const { connections } = this.options;
    const client = connections.acquire(lease.worker);
    const request = ExecuteRequest.fromPartial({
      capability: call.capability,
      version: lease.capability.version,
      input: call.input,
      requestId: call.requestId,
      caller: call.caller,
    });
    return new Promise((resolve, reject) => {
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
          const mapped = fromServiceError(error);
          const transport = !mapped.fromWorker && mapped.error.code === 'UNAVAILABLE';
          const failure: ExecuteFailure = {
            error: mapped.error,
            workerFault: !mapped.fromWorker && !call.signal?.aborted,
            retryable:
              transport && !call.signal?.aborted && (!accepted || lease.capability.definition.idempotent),
          };
          reject(failure);
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
        this.options.metrics.contractViolations.inc({ capability: capability.id, worker: lease.worker.id });
        const violation =
          error instanceof ContractViolationError
            ? error
            : new ContractViolationError(`worker "${lease.worker.id}" answered ${(error as Error).message}`);
        this.options.logger.warn(
          {
            event: 'contract_violation',
            capability: capability.key,
            workerId: lease.worker.id,
            reason: violation.message,
          },
          'worker output broke the capability contract',
        );
        throw violation;
      }
    }
    return { output, workerId: lease.worker.id, version: capability.version };
  }
}

interface ExecuteFailure {
  error: CrankError;
  /** The transport or worker failed (breaker learns), as opposed to a contract error it answered. */
  workerFault: boolean;
  retryable: boolean;
}
