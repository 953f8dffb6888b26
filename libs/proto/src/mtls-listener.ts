import type { Http2Server, ServerHttp2Session } from 'node:http2';
import { createServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { ServerCredentials, type Server } from '@grpc/grpc-js';
import { PeerDirectory } from './peer-directory.js';
import { WIRE_LIMITS } from './wire.js';

/** TLS material of a listener; all PEM. */
export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface MtlsListenerOptions extends TlsMaterial {
  host: string;
  port: number;
  /**
   * Whether a connection without a client certificate is let through (the controller answers
   * Enroll without one). A certificate that is presented must chain to the CA either way.
   * @default false
   */
  allowAnonymous?: boolean;
  /** Where identities of accepted connections are recorded. @default a new directory */
  peers?: PeerDirectory;
  /** Called for each connection refused during the handshake. */
  onRefused?: (remoteAddress: string | undefined, reason: string) => void;
}

/**
 * Terminates TLS 1.3 for a grpc-js server and hands the sockets to it through a connection
 * injector. Doing the TLS here, not in grpc-js, gives three things grpc-js's credentials do not:
 * an optional client certificate that must still chain to the CA when presented (refused in the
 * handshake otherwise), the peer's identity read once per connection into {@link peers}, and
 * TCP_NODELAY on every socket, so small responses are not held back by Nagle's algorithm.
 */
export class MtlsListener {
  protected constructor(
    private readonly tlsServer: TlsServer,
    readonly address: AddressInfo,
    /** Identities of the authorised connections, for per-call checks. */
    readonly peers: PeerDirectory,
    /** Open sockets, so that a shutdown can end the ones that outlive its grace period. */
    private readonly sockets: Set<TLSSocket>,
  ) {}

  static async listen(grpcServer: Server, options: MtlsListenerOptions): Promise<MtlsListener> {
    const injector = withWideWindows(grpcServer, () =>
      grpcServer.createConnectionInjector(ServerCredentials.createInsecure()),
    );
    const peers = options.peers ?? new PeerDirectory();
    const sockets = new Set<TLSSocket>();
    const tlsServer = createServer(
      {
        ca: options.caPem,
        cert: options.certPem,
        key: options.keyPem,
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.3',
        ALPNProtocols: ['h2'],
        noDelay: true,
      },
      (socket: TLSSocket) => {
        // A handshake that began before close() may end after it, and after destroyConnections():
        // nothing would ever read or end that socket, and it would keep the process alive.
        if (!tlsServer.listening) {
          socket.destroy();
          return;
        }
        if (!socket.authorized) {
          const presented = Object.keys(socket.getPeerCertificate()).length > 0;
          if (presented || !options.allowAnonymous) {
            options.onRefused?.(
              socket.remoteAddress,
              String(socket.authorizationError ?? 'no client certificate'),
            );
            socket.destroy();
            return;
          }
        } else {
          peers.add(socket);
        }
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
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
    return new MtlsListener(tlsServer, tlsServer.address() as AddressInfo, peers, sockets);
  }

  /** Swaps the serving certificate (rotation) for new connections; open ones keep theirs. */
  updateIdentity(material: TlsMaterial): void {
    this.tlsServer.setSecureContext({
      ca: material.caPem,
      cert: material.certPem,
      key: material.keyPem,
      minVersion: 'TLSv1.3',
    });
  }

  /**
   * Stops accepting connections and returns at once. Open sessions are left to the grpc-js
   * server's shutdown (GOAWAY, then calls finish); {@link destroyConnections} ends what is left.
   * (Waiting for the TLS server's own close callback would wait for every client to hang up,
   * which connected workers never do.)
   */
  close(): void {
    this.tlsServer.close();
  }

  /** Open connections now. */
  get connections(): number {
    return this.sockets.size;
  }

  /** Ends every open connection at once: the last step of a shutdown whose grace has run out. */
  destroyConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

/** The grpc-js server internals {@link withWideWindows} reaches into. */
interface GrpcServerInternals {
  http2Servers?: Map<Http2Server, unknown>;
}

/**
 * Runs `create` (which makes the grpc-js server's HTTP/2 server) and gives each session of that
 * server the receive windows of {@link WIRE_LIMITS}. grpc-js clients take them as a channel
 * option, but its server takes none yet (grpc/grpc-node pull request 3058) and leaves HTTP/2's 64
 * KiB, which halves the speed of an upload streamed through the controller. It finds the HTTP/2
 * server it made in its `http2Servers` map; mtls-listener.spec.ts fails if that ever goes away.
 */
export function withWideWindows<T>(grpcServer: Server, create: () => T): T {
  const servers = (grpcServer as unknown as GrpcServerInternals).http2Servers;
  const before = new Set(servers?.keys());
  const result = create();
  for (const http2Server of servers?.keys() ?? []) {
    if (before.has(http2Server)) continue;
    http2Server.on('session', (session: ServerHttp2Session) => {
      session.settings({ initialWindowSize: WIRE_LIMITS.streamWindowBytes });
      session.setLocalWindowSize(WIRE_LIMITS.connectionWindowBytes);
    });
  }
  return result;
}
