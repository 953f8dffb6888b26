import type { Capability } from '@crank/capabilities';

/**
 * What the controller knows of a worker. `ready`/`busy` are computed from slots; `draining` comes
 * from the worker; `unhealthy` from stuck detection or an open circuit breaker; `gone` once evicted
 * or deregistered.
 */
export type WorkerState = 'ready' | 'busy' | 'draining' | 'unhealthy' | 'gone';

/** One capability version a worker offers, with its own readiness and slot count. */
export interface OfferedCapability {
  readonly capability: Capability;
  ready: boolean;
  reason: string;
  /** Calls the controller has routed to this worker for this capability and not yet finished. */
  inFlight: number;
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
  draining: boolean;
  /** Set by stuck detection; cleared when the worker completes work again. */
  stuck: boolean;
  lastHeartbeatAt: number;
  /** As last reported by the worker. */
  reportedInFlight: number;
  reportedCompleted: number;
  load: number;
  /** Last time the worker was seen idle or completing work; stuck detection measures from here. */
  lastProgressAt: number;
}

/** Sum of routed in-flight calls over a worker's capabilities. */
export function workerInFlight(worker: WorkerRecord): number {
  let total = 0;
  for (const offer of worker.offers.values()) total += offer.inFlight;
  return total;
}

/** The state shown to operators and used in metrics. */
export function workerState(worker: WorkerRecord, breakerOpen: boolean): WorkerState {
  if (worker.draining) return 'draining';
  if (worker.stuck || breakerOpen) return 'unhealthy';
  for (const offer of worker.offers.values()) {
    if (offer.ready && offer.inFlight < offer.capability.definition.resources.maxConcurrency) return 'ready';
  }
  return 'busy';
}
