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
  private readonly clients = new Map<string, { address: string; client: WorkerClient }>();
  private channelCredentials: ChannelCredentials;

  constructor(identity: TlsIdentity) {
    this.channelCredentials = toCredentials(identity);
  }

  /** Uses a renewed controller certificate for connections opened from now on. */
  updateIdentity(identity: TlsIdentity): void {
    this.channelCredentials = toCredentials(identity);
    this.closeAll();
  }

  get(worker: WorkerRecord): WorkerClient {
    const existing = this.clients.get(worker.id);
    if (existing && existing.address === worker.address) return existing.client;
    existing?.client.close();
    const client = new WorkerClient(worker.address, this.channelCredentials, {
      'grpc.ssl_target_name_override': worker.id,
      'grpc.default_authority': worker.id,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    });
    this.clients.set(worker.id, { address: worker.address, client });
    return client;
  }

  close(workerId: string): void {
    this.clients.get(workerId)?.client.close();
    this.clients.delete(workerId);
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
