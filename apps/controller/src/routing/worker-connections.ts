import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { WorkerClient } from '@crank/proto';
import type { WorkerRecord } from '../registry/worker-record.js';
import type { TlsIdentity } from '../grpc/mtls-listener.js';

/**
 * One gRPC client per worker, over mTLS with the controller's certificate. A worker's serving
 * certificate carries its id as DNS name, so the channel verifies the worker by id whatever address
 * it registered.
 */
export class WorkerConnections {
  /** `active` counts calls in progress; a retired connection closes when it drops to zero. */
  private readonly clients = new Map<
    string,
    { address: string; client: WorkerClient; active: number; retired: boolean }
  >();
  private channelCredentials: ChannelCredentials;

  constructor(identity: TlsIdentity) {
    this.channelCredentials = toCredentials(identity);
  }

  /** Uses a renewed controller certificate for connections opened from now on. */
  updateIdentity(identity: TlsIdentity): void {
    this.channelCredentials = toCredentials(identity);
    this.closeAll();
  }

  /** The client for a worker, counted as in use until {@link done} is called for it. */
  acquire(worker: WorkerRecord): WorkerClient {
    const existing = this.clients.get(worker.id);
    if (existing && existing.address === worker.address && !existing.retired) {
      existing.active += 1;
      return existing.client;
    }
    if (existing && existing.active === 0) existing.client.close();
    const client = new WorkerClient(worker.address, this.channelCredentials, {
      'grpc.ssl_target_name_override': worker.id,
      'grpc.default_authority': worker.id,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    });
    this.clients.set(worker.id, { address: worker.address, client, active: 1, retired: false });
    return client;
  }

  /** Ends one use of a worker's client taken with {@link acquire}. */
  done(workerId: string, client: WorkerClient): void {
    const entry = this.clients.get(workerId);
    if (!entry || entry.client !== client) {
      // The worker re-registered elsewhere meanwhile; this client is no longer indexed.
      return;
    }
    entry.active -= 1;
    if (entry.retired && entry.active === 0) {
      entry.client.close();
      this.clients.delete(workerId);
    }
  }

  /**
   * Closes a worker's connection once its calls in progress are done: a draining worker that
   * deregistered still answers the calls it accepted.
   */
  retire(workerId: string): void {
    const entry = this.clients.get(workerId);
    if (!entry) return;
    if (entry.active === 0) {
      entry.client.close();
      this.clients.delete(workerId);
    } else {
      entry.retired = true;
    }
  }

  closeAll(): void {
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }
}

function toCredentials(identity: TlsIdentity): ChannelCredentials {
  return credentials.createSsl(
    Buffer.from(identity.caPem),
    Buffer.from(identity.keyPem),
    Buffer.from(identity.certPem),
  );
}
