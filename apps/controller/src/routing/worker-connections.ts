import { Metadata, credentials, type ChannelCredentials } from '@grpc/grpc-js';
import {
  HealthCheckRequest,
  HealthCheckResponse_ServingStatus,
  HealthClient,
  WIRE_LIMITS,
  WorkerClient,
} from '@crank/proto';
import type { WorkerRecord } from '../registry/worker-record.js';
import type { TlsMaterial } from '@crank/proto';

interface Connection {
  address: string;
  client: WorkerClient;
  /** Calls in progress on this client. */
  active: number;
}

/**
 * One gRPC client per worker, over mTLS with the controller's certificate. A worker's serving
 * certificate carries its id as DNS name, so the channel verifies the worker by id whatever address
 * it registered. A client that is replaced (worker gone, re-registered elsewhere, controller
 * certificate renewed) is closed only once the calls running on it are done.
 */
export class WorkerConnections {
  private readonly current = new Map<string, Connection>();
  /** Replaced clients that still carry calls. */
  private readonly retired = new Map<WorkerClient, Connection>();
  private channelCredentials: ChannelCredentials;

  constructor(identity: TlsMaterial) {
    this.channelCredentials = toCredentials(identity);
  }

  /** Uses a renewed controller certificate for connections opened from now on. */
  updateIdentity(identity: TlsMaterial): void {
    this.channelCredentials = toCredentials(identity);
    for (const workerId of [...this.current.keys()]) this.retire(workerId);
  }

  /** The client for a worker, counted as in use until {@link done} is called with it. */
  acquire(worker: WorkerRecord): WorkerClient {
    const existing = this.current.get(worker.id);
    if (existing && existing.address === worker.address) {
      existing.active += 1;
      return existing.client;
    }
    if (existing) this.retire(worker.id);
    const client = new WorkerClient(worker.address, this.channelCredentials, {
      'grpc.ssl_target_name_override': worker.id,
      'grpc.default_authority': worker.id,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.max_receive_message_length': WIRE_LIMITS.maxMessageBytes,
      'grpc.max_send_message_length': WIRE_LIMITS.maxMessageBytes,
      'grpc-node.flow_control_window': WIRE_LIMITS.streamWindowBytes,
    });
    this.current.set(worker.id, { address: worker.address, client, active: 1 });
    return client;
  }

  /**
   * Opens the connection to a worker ahead of its first call, so that call does not pay for the
   * TLS handshake. Failures are left to the first call, which retries elsewhere.
   */
  warm(worker: WorkerRecord, timeoutMs = 5_000): void {
    const client = this.acquire(worker);
    client.waitForReady(Date.now() + timeoutMs, () => this.done(worker.id, client));
  }

  /**
   * Asks the worker's gRPC health service whether it serves, over the worker's own channel, with
   * a short deadline: a hung or stopped process fails the probe instead of hanging it.
   */
  probe(worker: WorkerRecord, timeoutMs = 1_000): Promise<boolean> {
    const client = this.acquire(worker);
    const health = new HealthClient(worker.address, this.channelCredentials, {
      channelOverride: client.getChannel(),
    });
    return new Promise<boolean>((resolve) => {
      health.check(
        HealthCheckRequest.fromPartial({ service: '' }),
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          this.done(worker.id, client);
          resolve(!error && response.status === HealthCheckResponse_ServingStatus.SERVING);
        },
      );
    });
  }

  /** Ends one use of a client taken with {@link acquire}. */
  done(workerId: string, client: WorkerClient): void {
    const current = this.current.get(workerId);
    if (current?.client === client) {
      current.active -= 1;
      return;
    }
    const retired = this.retired.get(client);
    if (!retired) return;
    retired.active -= 1;
    if (retired.active <= 0) {
      client.close();
      this.retired.delete(client);
    }
  }

  /** Closes a worker's client now if idle, else once its last call is done. */
  retire(workerId: string): void {
    const connection = this.current.get(workerId);
    if (!connection) return;
    this.current.delete(workerId);
    if (connection.active <= 0) connection.client.close();
    else this.retired.set(connection.client, connection);
  }

  closeAll(): void {
    for (const { client } of [...this.current.values(), ...this.retired.values()]) client.close();
    this.current.clear();
    this.retired.clear();
  }
}

function toCredentials(identity: TlsMaterial): ChannelCredentials {
  return credentials.createSsl(
    Buffer.from(identity.caPem),
    Buffer.from(identity.keyPem),
    Buffer.from(identity.certPem),
  );
}
