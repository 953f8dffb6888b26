import { Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import { crankErrorFromStatus, satisfiesRange } from '@crank/capabilities';
import {
  ControllerClient,
  FORWARDED_FOR_HEADER,
  InvokeRequest,
  WIRE_LIMITS,
  wireErrorInfo,
  type TlsMaterial,
} from '@crank/proto';
import type { Logger } from 'pino';
import type { InvokeCall, InvokeResult } from '../invoke/invocation-service.js';
import type { ClusterDirectory } from './cluster-directory.js';

/** The name every controller's certificate carries, whatever address it is dialled at. */
const CONTROLLER_NAME = 'crank-controller';

/**
 * Sends a call to another controller that has workers for its capability, when this one has none:
 * one hop, over mTLS with this controller's own certificate, with the caller's deadline,
 * cancellation and identity. The other controller routes it to its workers as its own call.
 */
export class ControllerForwarder {
  private readonly clients = new Map<string, ControllerClient>();
  private turn = 0;

  constructor(
    private readonly directory: ClusterDirectory,
    private identity: TlsMaterial,
    private readonly logger: Logger,
  ) {}

  /** Uses a renewed certificate for connections opened from now on. */
  updateIdentity(identity: TlsMaterial): void {
    this.identity = identity;
    this.closeAll();
  }

  /**
   * Forwards `call` to a live controller whose workers offer a version in its range.
   * @returns undefined when no other controller offers it (the caller keeps its own error)
   * @throws CrankError as the other controller answered
   */
  async invoke(call: InvokeCall): Promise<InvokeResult | undefined> {
    const offers = (await this.directory.remoteOffers(call.capability)).filter((offer) =>
      satisfiesRange(offer.version, call.range),
    );
    const addresses = [...new Set(offers.map((offer) => offer.address))];
    if (addresses.length === 0) return undefined;
    const address = addresses[this.turn++ % addresses.length] as string;
    this.logger.debug(
      { event: 'call_forwarded', capability: call.capability, to: address, requestId: call.requestId },
      'forwarded to the controller that has the workers',
    );
    const client = this.client(address);
    const metadata = new Metadata();
    metadata.set(FORWARDED_FOR_HEADER, call.caller);
    return new Promise((resolve, reject) => {
      const grpcCall = client.invoke(
        InvokeRequest.fromPartial({
          capability: call.capability,
          version: call.range,
          input: call.input,
          requestId: call.requestId,
        }),
        metadata,
        call.deadlineMs === undefined ? {} : { deadline: call.deadlineMs },
        (error: ServiceError | null, response) => {
          call.signal?.removeEventListener('abort', onAbort);
          if (error) {
            reject(
              crankErrorFromStatus(error.code, error.details ?? '', wireErrorInfo(error.metadata), error),
            );
            return;
          }
          resolve({
            output: response.output ?? { contentType: '', data: Buffer.alloc(0) },
            workerId: response.workerId,
            version: response.version,
          });
        },
      );
      const onAbort = (): void => grpcCall.cancel();
      call.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  closeAll(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client(address: string): ControllerClient {
    let client = this.clients.get(address);
    if (!client) {
      client = new ControllerClient(
        address,
        credentials.createSsl(
          Buffer.from(this.identity.caPem),
          Buffer.from(this.identity.keyPem),
          Buffer.from(this.identity.certPem),
        ),
        {
          'grpc.ssl_target_name_override': CONTROLLER_NAME,
          'grpc.default_authority': CONTROLLER_NAME,
          'grpc.keepalive_time_ms': 30_000,
          'grpc.max_receive_message_length': WIRE_LIMITS.maxMessageBytes,
          'grpc.max_send_message_length': WIRE_LIMITS.maxMessageBytes,
          'grpc-node.flow_control_window': WIRE_LIMITS.streamWindowBytes,
        },
      );
      this.clients.set(address, client);
    }
    return client;
  }
}
