import { status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthListRequest,
  type HealthListResponse,
  type HealthServer,
} from '@crank/proto';

/**
 * The standard `grpc.health.v1.Health` service. The empty service name is the worker as a whole;
 * each capability id is a service of its own (NOT_SERVING while its model loads).
 */
export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<
    string,
    Set<ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>
  >();

  set(service: string, serving: boolean): void {
    const next = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    if (this.statuses.get(service) === next) return;
    this.statuses.set(service, next);
    for (const watcher of this.watchers.get(service) ?? []) watcher.write({ status: next });
  }

  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** Ends open Watch streams (shutdown). */
  close(): void {
    for (const set of this.watchers.values()) for (const watcher of set) watcher.end();
    this.watchers.clear();
  }

  implementation(): HealthServer {
    return {
      check: (
        call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
        callback: sendUnaryData<HealthCheckResponse>,
      ) => {
        const current = this.statuses.get(call.request.service);
        if (current === undefined) {
          callback({ code: status.NOT_FOUND, details: `unknown service "${call.request.service}"` }, null);
          return;
        }
        callback(null, { status: current });
      },
      list: (
        _call: ServerUnaryCall<HealthListRequest, HealthListResponse>,
        callback: sendUnaryData<HealthListResponse>,
      ) => {
        callback(null, {
          statuses: Object.fromEntries([...this.statuses].map(([name, s]) => [name, { status: s }])),
        });
      },
      watch: (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
        const service = call.request.service;
        call.write({ status: this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN });
        const set = this.watchers.get(service) ?? new Set();
        set.add(call);
        this.watchers.set(service, set);
        call.on('cancelled', () => set.delete(call));
      },
    };
  }
}
