import type { PeerCertificate, TLSSocket } from 'node:tls';
import { CrankError } from '@crank/capabilities';
import type { IdentityKind } from '../pki/certificate-authority.js';

/** Who is calling, from the verified client certificate. */
export interface PeerIdentity {
  id: string;
  kind: IdentityKind;
}

/** Anything with grpc-js's `getPeer()`: `address:port` of the connection the call came on. */
export interface HasPeer {
  getPeer(): string;
}

/**
 * Identities of the open connections, read once per connection when its TLS handshake completes
 * (reading the peer certificate is costly, and grpc-js would do it on every call). Keyed by the
 * remote `address:port`, which no two open connections share.
 */
export class PeerDirectory {
  private readonly peers = new Map<string, PeerIdentity>();

  /** Records an authorised socket's identity until the socket closes. */
  add(socket: TLSSocket): void {
    const identity = identityOf(socket.getPeerCertificate());
    if (!identity) return;
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    this.peers.set(key, identity);
    socket.once('close', () => this.peers.delete(key));
  }

  /** The caller's identity, or undefined when it presented no client certificate. */
  lookup(call: HasPeer): PeerIdentity | undefined {
    return this.peers.get(call.getPeer());
  }

  /** @throws CrankError UNAUTHENTICATED without a valid client certificate. */
  require(call: HasPeer): PeerIdentity {
    const peer = this.lookup(call);
    if (!peer)
      throw new CrankError('UNAUTHENTICATED', 'a client certificate issued by the Crank CA is required');
    return peer;
  }

  /** @throws CrankError PERMISSION_DENIED unless the caller is the worker `workerId` itself. */
  requireWorkerSelf(call: HasPeer, workerId: string): PeerIdentity {
    const peer = this.require(call);
    if (peer.kind !== 'worker' || peer.id !== workerId) {
      throw new CrankError(
        'PERMISSION_DENIED',
        `worker_id: "${peer.id}" (${peer.kind}) may not act for worker "${workerId}"; a worker may only act for itself`,
      );
    }
    return peer;
  }
}

function identityOf(cert: PeerCertificate | undefined): PeerIdentity | undefined {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const id = first(cert.subject?.CN);
  const kind = first(cert.subject?.OU);
  if (!id || (kind !== 'worker' && kind !== 'caller' && kind !== 'controller')) return undefined;
  return { id, kind };
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
