import { Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { Capability } from '@crank/capabilities';
import { CALL_DURATION_BUCKETS, SeriesCounter, SeriesHistogram, callRecorder } from '@crank/proto';
import type { CapabilitySlots } from './capability-slots.js';

/** A worker's Prometheus metrics, on its own registry. */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly requests: SeriesCounter<'capability' | 'version' | 'outcome'>;
  readonly duration: SeriesHistogram<'capability'>;
  /** Counts one call and its handler time (seconds), by the capability and how it ended. */
  readonly recordCall: (capability: Capability, outcome: string, seconds: number) => void;

  constructor(slots: CapabilitySlots, labels: Record<string, string>) {
    this.registry.setDefaultLabels(labels);
    // Event-loop lag is sampled every 100 ms, not prom-client's 10 ms: a 10 ms timer alone costs
    // about 1 % of a core and wakes the process 100 times a second, busy or idle.
    collectDefaultMetrics({
      register: this.registry,
      prefix: 'crank_worker_',
      eventLoopMonitoringPrecision: 100,
    });
    const registers = [this.registry];
    this.requests = new SeriesCounter(
      'crank_worker_requests_total',
      'Calls handled by this worker, by capability, version and outcome (ok or the contract error code).',
      ['capability', 'version', 'outcome'],
    );
    this.duration = new SeriesHistogram(
      'crank_worker_request_duration_seconds',
      'Handler time per call, from acceptance to answer.',
      ['capability'],
      CALL_DURATION_BUCKETS,
    );
    // Series metrics speak prom-client's metric shape; its types do not know them.
    this.registry.registerMetric(this.requests as unknown as Metric);
    this.registry.registerMetric(this.duration as unknown as Metric);
    this.recordCall = callRecorder(
      (capability, outcome) =>
        this.requests.series({ capability: capability.id, version: capability.version, outcome }),
      (capability) => this.duration.series({ capability: capability.id }),
    );
    new Gauge({
      name: 'crank_worker_inflight',
      help: 'Calls being handled now, by capability.',
      labelNames: ['capability'],
      registers,
      collect() {
        this.reset();
        for (const entry of slots.entries.values())
          this.set({ capability: entry.served.capability.id }, entry.inFlight);
      },
    });
    new Gauge({
      name: 'crank_worker_capability_ready',
      help: '1 when the capability is ready to serve (model loaded), else 0.',
      labelNames: ['capability', 'version'],
      registers,
      collect() {
        this.reset();
        for (const entry of slots.entries.values()) {
          this.set(
            { capability: entry.served.capability.id, version: entry.served.capability.version },
            entry.ready ? 1 : 0,
          );
        }
      },
    });
  }
}
