import type { Logger } from 'pino';

/** Settings of {@link EnrollmentGuard}. */
export interface EnrollmentGuardOptions {
  logger: Logger;
  /** Longest a peer's next attempt is held back after repeated failures. @default 5000 */
  maxDelayMs?: number;
  /** Failures are forgotten after this long without another. @default 600000 */
  forgetAfterMs?: number;
  /** At most one log line per peer per this interval, counting the failures in between. @default 10000 */
  logEveryMs?: number;
  now?: () => number;
}

interface PeerRecord {
  failures: number;
  lastFailureAt: number;
  lastLoggedAt: number;
  unlogged: number;
}

/** Peers tracked at once; the oldest is forgotten past this. */
const MAX_PEERS = 10_000;

/**
 * Audits failed enrollments (a wrong bootstrap token, a bad CSR) and slows down a peer that keeps
 * failing, so that guessing the token costs time. Each failure is logged, at most one line per
 * peer per `logEveryMs` with the count since the last line; a peer's next attempt waits
 * 100 ms x 2^(failures-1), up to `maxDelayMs`. A success forgets the peer.
 */
export class EnrollmentGuard {
  private readonly peers = new Map<string, PeerRecord>();
  private readonly now: () => number;
  private readonly maxDelayMs: number;
  private readonly forgetAfterMs: number;
  private readonly logEveryMs: number;

  constructor(private readonly options: EnrollmentGuardOptions) {
    this.now = options.now ?? Date.now;
    this.maxDelayMs = options.maxDelayMs ?? 5_000;
    this.forgetAfterMs = options.forgetAfterMs ?? 600_000;
    this.logEveryMs = options.logEveryMs ?? 10_000;
  }

  /** How long the peer's attempt must wait before it is answered (0 for a peer in good standing). */
  delayMs(peer: string): number {
    const record = this.current(peer);
    if (!record) return 0;
    return Math.min(this.maxDelayMs, 100 * 2 ** Math.min(record.failures - 1, 16));
  }

  /** Records a failed attempt and logs it (rate-limited). */
  failed(peer: string, identity: string, reason: string): void {
    const now = this.now();
    const record = this.current(peer) ?? {
      failures: 0,
      lastFailureAt: now,
      lastLoggedAt: Number.NEGATIVE_INFINITY,
      unlogged: 0,
    };
    record.failures += 1;
    record.unlogged += 1;
    record.lastFailureAt = now;
    this.peers.delete(peer);
    this.peers.set(peer, record);
    if (this.peers.size > MAX_PEERS) this.peers.delete(this.peers.keys().next().value as string);
    if (now - record.lastLoggedAt < this.logEveryMs) return;
    this.options.logger.warn(
      {
        event: 'enroll_refused',
        peer,
        identity: identity.slice(0, 64),
        reason,
        failures: record.unlogged,
        nextDelayMs: this.delayMs(peer),
      },
      'refused an enrollment',
    );
    record.lastLoggedAt = now;
    record.unlogged = 0;
  }

  /** A successful enrollment clears the peer's record. */
  succeeded(peer: string): void {
    this.peers.delete(peer);
  }

  private current(peer: string): PeerRecord | undefined {
    const record = this.peers.get(peer);
    if (record && this.now() - record.lastFailureAt > this.forgetAfterMs) {
      this.peers.delete(peer);
      return undefined;
    }
    return record;
  }
}

/** The host part of grpc-js's `getPeer()` (`1.2.3.4:5`, `[::1]:5`): failures count per host. */
export function peerHost(peer: string): string {
  const bracket = /^\[([^\]]+)\]:\d+$/.exec(peer);
  if (bracket) return bracket[1] as string;
  const colon = peer.lastIndexOf(':');
  return colon > 0 && peer.indexOf(':') === colon ? peer.slice(0, colon) : peer;
}
