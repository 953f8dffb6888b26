import type { PeerCertificate } from 'node:tls';
import { CrankError } from '@crank/capabilities';
import type { IdentityKind } from '../pki/certificate-authority.js';

/** Who is calling, from the verified client certificate. */
export interface PeerIdentity {
  id: string;
  kind: IdentityKind;
}

/** Anything with grpc-js's `getAuthContext()`. */
export interface HasAuthContext {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
}

/** The caller's identity, or undefined when it presented no (valid) certificate. */
export function peerIdentity(call: HasAuthContext): PeerIdentity | undefined {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  if (!cert) return undefined;
  const id = first(cert.subject?.CN);
  const kind = first(cert.subject?.OU);
  if (!id || (kind !== 'worker' && kind !== 'caller' && kind !== 'controller')) return undefined;
  return { id, kind };
}

/** @throws CrankError UNAUTHENTICATED without a valid client certificate. */
export function requirePeer(call: HasAuthContext): PeerIdentity {
  const peer = peerIdentity(call);
  if (!peer)
    throw new CrankError('UNAUTHENTICATED', 'a client certificate issued by the Crank CA is required');
  return peer;
}

/** @throws CrankError PERMISSION_DENIED unless the caller is the worker `workerId` itself. */
export function requireWorkerSelf(call: HasAuthContext, workerId: string): PeerIdentity {
  const peer = requirePeer(call);
  if (peer.kind !== 'worker' || peer.id !== workerId) {
    throw new CrankError(
      'PERMISSION_DENIED',
      `worker_id: "${peer.id}" (${peer.kind}) may not act for worker "${workerId}"; a worker may only act for itself`,
    );
  }
  return peer;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
