import type { Capability } from '@crank/capabilities';

/**
 * What the controller knows of a worker. `ready`/`busy` are computed from slots; `draining` comes
 * from the worker; `unhealthy` from stuck detection, an open circuit breaker or outlier ejection;
 * `gone` once evicted or deregistered.
 */
export type WorkerState = 'ready' | 'busy' | 'draining' | 'unhealthy' | 'gone';

/** One capability version a worker offers, with its own readiness. */
export interface OfferedCapability {
  readonly capability: Capability;
  ready: boolean;
  reason: string;
}

/**
 * The counters of one worker id that outlive its registrations. A worker that registers again
 * (controller restart on its side, a NOT_FOUND heartbeat) keeps its ledger, so calls leased before
 * and released after the re-registration are counted in one place. Only a worker that left
 * (deregistered, evicted) starts a new one; leases on the old one then count there, harmlessly.
 */
export interface WorkerLedger {
  /** Calls routed and not yet finished, by capability key (`id@version`). */
  readonly inFlight: Map<string, number>;
  /** Calls routed to the worker that finished, however they ended. */
  completed: number;
  /** Of those, the ones that failed by the worker's fault. */
  failed: number;
  /** Last time a routed call finished or moved a stream frame, or the worker had nothing in flight. */
  lastProgressAt: number;
  /** The last {@link RECENT_CALLS} calls that finished, oldest first. */
  readonly recent: RecentCall[];
}

/** A call routed to a worker that finished, as the dashboard shows it. */
export interface RecentCall {
  /** When it finished, epoch ms. */
  at: number;
  /** `id@version`. */
  capability: string;
  /** `ok`, or the contract error code it ended with. */
  code: string;
  /** From dispatch to the answer; absent when the call never reached the worker. */
  latencyMs?: number;
}

/** How many finished calls a ledger keeps for the dashboard. */
export const RECENT_CALLS = 50;

/** A new, empty ledger. */
export function newLedger(now: number): WorkerLedger {
  return { inFlight: new Map(), completed: 0, failed: 0, lastProgressAt: now, recent: [] };
}

/** Keeps `call` among the ledger's recent calls, forgetting the oldest past {@link RECENT_CALLS}. */
export function recordRecentCall(ledger: WorkerLedger, call: RecentCall): void {
  if (ledger.recent.length >= RECENT_CALLS) ledger.recent.shift();
  ledger.recent.push(call);
}

export interface WorkerRecord {
  readonly id: string;
  readonly address: string;
  readonly gpu: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly runtimeVersion: string;
  readonly registeredAt: number;
  /** Keyed by `id@version`. */
  readonly offers: Map<string, OfferedCapability>;
  readonly ledger: WorkerLedger;
  /**
   * Fingerprint of the public key the worker registered with: a live id belongs to that key, and
   * a claim on it with another key is refused. Moves to the new key when the worker renews.
   */
  keyFingerprint: string;
  /** When the certificate it last called with expires, epoch ms; undefined until known. */
  certNotAfter: number | undefined;
  draining: boolean;
  /**
   * An operator asked for a drain: the worker stays `draining` whatever its heartbeats say, takes
   * no new calls, and is told to drain in each heartbeat answer until it deregisters.
   */
  drainRequested: boolean;
  /** Set by stuck detection; cleared when the worker makes progress again. */
  stuck: boolean;
  lastHeartbeatAt: number;
  /** As last reported by the worker. */
  reportedInFlight: number;
  reportedCompleted: number;
  load: number;
}

/** Routed calls in flight on one offer. */
export function offerInFlight(worker: WorkerRecord, offer: OfferedCapability): number {
  return worker.ledger.inFlight.get(offer.capability.key) ?? 0;
}

/** Sum of routed in-flight calls over a worker's capabilities. */
export function workerInFlight(worker: WorkerRecord): number {
  let total = 0;
  for (const count of worker.ledger.inFlight.values()) total += count;
  return total;
}

/** The state shown to operators and used in metrics. */
export function workerState(worker: WorkerRecord, outOfRotation: boolean): WorkerState {
  if (worker.draining) return 'draining';
  if (worker.stuck || outOfRotation) return 'unhealthy';
  for (const offer of worker.offers.values()) {
    if (offer.ready && offerInFlight(worker, offer) < offer.capability.definition.resources.maxConcurrency)
      return 'ready';
  }
  return 'busy';
}
