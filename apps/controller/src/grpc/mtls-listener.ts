import { createServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { ServerCredentials, type Server } from '@grpc/grpc-js';

/** TLS material of a listener; all PEM. */
export interface TlsIdentity {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface MtlsListenerOptions extends TlsIdentity {
  host: string;
  port: number;
  /** Called for each connection refused at the TLS layer. */
  onRefused?: (remoteAddress: string | undefined, reason: string) => void;
  /** Called for each authorised connection, before any call on it is handled. */
  onAccepted?: (socket: TLSSocket) => void;
}

/**
 * Terminates TLS for a grpc-js server so that the controller can enforce, per connection, what
 * grpc-js's own credentials cannot express: a client certificate is optional (Enroll is answered
 * without one) but any certificate presented must chain to the Crank CA, or the connection is
 * closed during the handshake. Authorised sockets are reported through `onAccepted` (whose
 * identity the caller records once per connection) and handed to grpc-js through a connection
 * injector.
 */
export class MtlsListener {
  protected constructor(
    private readonly tlsServer: TlsServer,
    readonly address: AddressInfo,
  ) {}

  static async listen(grpcServer: Server, options: MtlsListenerOptions): Promise<MtlsListener> {
    const injector = grpcServer.createConnectionInjector(ServerCredentials.createInsecure());
    const tlsServer = createServer(
      {
        ca: options.caPem,
        cert: options.certPem,
        key: options.keyPem,
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.3',
        ALPNProtocols: ['h2'],
      },
      (socket: TLSSocket) => {
        const presented = Object.keys(socket.getPeerCertificate()).length > 0;
        if (presented && !socket.authorized) {
          options.onRefused?.(socket.remoteAddress, String(socket.authorizationError));
          socket.destroy();
          return;
        }
        if (socket.authorized) options.onAccepted?.(socket);
        injector.injectConnection(socket);
      },
    );
    tlsServer.on('tlsClientError', (error, socket) =>
      options.onRefused?.(socket.remoteAddress, error.message),
    );
    await new Promise<void>((resolve, reject) => {
      tlsServer.once('error', reject);
      tlsServer.listen(options.port, options.host, () => {
        tlsServer.off('error', reject);
        resolve();
      });
    });
    return new MtlsListener(tlsServer, tlsServer.address() as AddressInfo);
  }

  /** Swaps the serving certificate (rotation) for new connections; open ones keep theirs. */
  updateIdentity(identity: TlsIdentity): void {
    this.tlsServer.setSecureContext({ ca: identity.caPem, cert: identity.certPem, key: identity.keyPem });
  }

  /** Stops accepting connections. Sessions already open are closed by the grpc-js server's shutdown. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.tlsServer.close(() => resolve()));
  }
}
