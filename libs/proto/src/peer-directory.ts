import { createHash } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';

/** Who is on the other end of a connection, from its verified client certificate. */
export interface PeerIdentity {
  /** Certificate CN: a worker id, a caller name, or the controller's name. */
  id: string;
  /** Certificate OU: what the identity may do. */
  kind: 'controller' | 'worker' | 'caller';
  /** {@link publicKeyFingerprint} of the certificate's key: which holder of the identity this is. */
  keyFingerprint: string;
  /** When the certificate expires, epoch ms (undefined if it could not be read). */
  notAfter?: number;
}

/**
 * A short, stable name for a public key: sha256 of its raw point (an EC key's uncompressed point,
 * as `PeerCertificate.pubkey` gives it), hex, 32 characters.
 */
export function publicKeyFingerprint(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 32);
}

/** Anything with grpc-js's `getPeer()`: `address:port` of the connection a call came on. */
export interface HasPeer {
  getPeer(): string;
}

/**
 * Identities of the open connections, read once per connection when its TLS handshake completes
 * (reading the peer certificate is costly, and grpc-js's `getAuthContext()` does it on every
 * call). Keyed by the remote `address:port`, which no two open connections share; an entry
 * lives exactly as long as its socket.
 */
export class PeerDirectory {
  private readonly peers = new Map<string, PeerIdentity>();

  /** Records an authorised socket's identity until the socket closes. */
  add(socket: TLSSocket): void {
    const identity = identityOf(socket.getPeerCertificate());
    if (!identity) return;
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    this.peers.set(key, identity);
    socket.once('close', () => {
      if (this.peers.get(key) === identity) this.peers.delete(key);
    });
  }

  /** The caller's identity, or undefined when it presented no valid client certificate. */
  lookup(call: HasPeer): PeerIdentity | undefined {
    return this.peers.get(call.getPeer());
  }

  get size(): number {
    return this.peers.size;
  }
}

function identityOf(cert: PeerCertificate | undefined): PeerIdentity | undefined {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const id = first(cert.subject?.CN);
  const kind = first(cert.subject?.OU);
  if (!id || (kind !== 'worker' && kind !== 'caller' && kind !== 'controller')) return undefined;
  const notAfter = cert.valid_to ? Date.parse(cert.valid_to) : Number.NaN;
  return {
    id,
    kind,
    keyFingerprint: cert.pubkey ? publicKeyFingerprint(cert.pubkey) : '',
    ...(Number.isFinite(notAfter) ? { notAfter } : {}),
  };
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
