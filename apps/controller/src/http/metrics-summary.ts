import type { JobState } from '../jobs/job-state.js';
import type { JobSummary, Percentiles } from '../jobs/job-store.js';
import { offerInFlight, workerInFlight, type WorkerRecord } from '../registry/worker-record.js';

/** Calls in flight against the slots that could run them, over a set of workers. */
export interface LoadJson {
  /** Workers registered now (draining ones included). */
  workers: number;
  /** Calls routed and not yet finished: direct calls and job attempts alike. */
  inFlight: number;
  /** Sum of `maxConcurrency` over the ready capabilities of workers that are not draining. */
  slots: number;
  /** `inFlight / slots`; null without a slot. */
  utilization: number | null;
  byCapability: Record<string, { inFlight: number; slots: number }>;
}

/** Milliseconds at three percentiles; null without a sample in the window. */
export interface PercentilesJson {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** The body of `GET /v1/metrics/summary`. */
export interface MetricsSummaryJson {
  at: string;
  /** The window of `successRate`, `queueWaitMs` and `processingMs` (jobs finished in it). */
  windowMs: number;
  /** Jobs by state, every state present. */
  byState: Record<JobState, number>;
  /** completed / (completed + failed + dead_letter) over the window; null when none finished. */
  successRate: number | null;
  /** From creation to first start. */
  queueWaitMs: PercentilesJson;
  /** From start to finish, of completed jobs. */
  processingMs: PercentilesJson;
  /** Jobs due now and waiting for a worker, by capability. */
  queueDepth: Record<string, number>;
  load: LoadJson;
}

/** The load of the registered workers now, from the controller's own count of routed calls. */
export function currentLoad(workers: readonly WorkerRecord[]): LoadJson {
  const byCapability: Record<string, { inFlight: number; slots: number }> = {};
  let inFlight = 0;
  let slots = 0;
  for (const worker of workers) {
    inFlight += workerInFlight(worker);
    for (const offer of worker.offers.values()) {
      const id = offer.capability.id;
      const entry = (byCapability[id] ??= { inFlight: 0, slots: 0 });
      entry.inFlight += offerInFlight(worker, offer);
      if (offer.ready && !worker.draining) {
        const free = offer.capability.definition.resources.maxConcurrency;
        entry.slots += free;
        slots += free;
      }
    }
  }
  return {
    workers: workers.length,
    inFlight,
    slots,
    utilization: slots > 0 ? inFlight / slots : null,
    byCapability,
  };
}

/** The summary as JSON: absent figures become null rather than vanish. */
export function metricsSummaryJson(summary: JobSummary, load: LoadJson, now: number): MetricsSummaryJson {
  return {
    at: new Date(now).toISOString(),
    windowMs: summary.windowMs,
    byState: summary.byState,
    successRate: summary.successRate ?? null,
    queueWaitMs: percentilesJson(summary.queueWaitMs),
    processingMs: percentilesJson(summary.processingMs),
    queueDepth: summary.queueDepth,
    load,
  };
}

function percentilesJson(p: Percentiles): PercentilesJson {
  return { p50: p.p50 ?? null, p95: p.p95 ?? null, p99: p.p99 ?? null };
}
