import type { RecentCall, WorkerRecord, WorkerState } from '../registry/worker-record.js';
import { offerInFlight, workerInFlight } from '../registry/worker-record.js';
import type { Router } from '../routing/router.js';

/** A worker as the HTTP API shows it (`GET /v1/workers`, `GET /v1/workers/:id`). */
export interface WorkerJson {
  id: string;
  address: string;
  state: WorkerState;
  gpu: boolean;
  /** Calls routed to it and not yet finished. */
  inFlight: number;
  /** Calls it can take at once: the sum of its ready capabilities' `maxConcurrency`. */
  maxInFlight: number;
  /** Calls routed to it that finished, however they ended; and of those, the ones it failed. */
  completed: number;
  failed: number;
  /** Recent latency estimate (EWMA of answered calls), ms; null before its first answer. */
  latencyMs: number | null;
  lastHeartbeat: string;
  registeredAt: string;
  /** When the certificate it calls with expires; null when unknown. */
  certNotAfter: string | null;
  /** An operator asked this controller to drain it. */
  drainRequested: boolean;
  runtimeVersion: string;
  labels: Record<string, string>;
  capabilities: { id: string; version: string; ready: boolean; inFlight: number; reason: string }[];
}

/** The JSON of one worker record; `state` is the registry's view (or `gone`). */
export function workerJson(worker: WorkerRecord, state: WorkerState, router: Router): WorkerJson {
  const gone = state === 'gone';
  let maxInFlight = 0;
  const capabilities = [...worker.offers.values()].map((offer) => {
    if (offer.ready) maxInFlight += offer.capability.definition.resources.maxConcurrency;
    return {
      id: offer.capability.id,
      version: offer.capability.version,
      ready: offer.ready,
      inFlight: gone ? 0 : offerInFlight(worker, offer),
      reason: offer.reason,
    };
  });
  return {
    id: worker.id,
    address: worker.address,
    state,
    gpu: worker.gpu,
    inFlight: gone ? 0 : workerInFlight(worker),
    maxInFlight,
    completed: worker.ledger.completed,
    failed: worker.ledger.failed,
    latencyMs: router.latencyOf(worker.id) ?? null,
    lastHeartbeat: new Date(worker.lastHeartbeatAt).toISOString(),
    registeredAt: new Date(worker.registeredAt).toISOString(),
    certNotAfter: worker.certNotAfter === undefined ? null : new Date(worker.certNotAfter).toISOString(),
    drainRequested: worker.drainRequested,
    runtimeVersion: worker.runtimeVersion,
    labels: { ...worker.labels },
    capabilities,
  };
}

/** A recent call as the HTTP API shows it, newest first in a worker's `recentCalls`. */
export interface RecentCallJson {
  at: string;
  capability: string;
  code: string;
  latencyMs: number | null;
}

export function recentCallsJson(calls: readonly RecentCall[]): RecentCallJson[] {
  return calls
    .map((call) => ({
      at: new Date(call.at).toISOString(),
      capability: call.capability,
      code: call.code,
      latencyMs: call.latencyMs === undefined ? null : Math.round(call.latencyMs * 100) / 100,
    }))
    .reverse();
}
