import { CrankError } from '@crank/capabilities';
import type { HasPeer, PeerDirectory, PeerIdentity } from '@crank/proto';

/** @throws CrankError UNAUTHENTICATED without a valid client certificate. */
export function requirePeer(peers: PeerDirectory, call: HasPeer): PeerIdentity {
  const peer = peers.lookup(call);
  if (!peer)
    throw new CrankError('UNAUTHENTICATED', 'a client certificate issued by the Crank CA is required');
  return peer;
}

/** @throws CrankError PERMISSION_DENIED unless the caller is the worker `workerId` itself. */
export function requireWorkerSelf(peers: PeerDirectory, call: HasPeer, workerId: string): PeerIdentity {
  const peer = requirePeer(peers, call);
  if (peer.kind !== 'worker' || peer.id !== workerId) {
    throw new CrankError(
      'PERMISSION_DENIED',
      `worker_id: "${peer.id}" (${peer.kind}) may not act for worker "${workerId}"; a worker may only act for itself`,
    );
  }
  return peer;
}
