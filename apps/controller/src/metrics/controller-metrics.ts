import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { CALL_DURATION_BUCKETS, SeriesCounter, SeriesHistogram, callRecorder } from '@crank/proto';
import type { WorkerRegistry } from '../registry/worker-registry.js';
import { workerInFlight, workerState } from '../registry/worker-record.js';
import type { Router } from '../routing/router.js';
import type { ByteBudget } from '../invoke/byte-budget.js';
import type { JobService } from '../jobs/job-service.js';
import type { JobRecord } from '../jobs/job-store.js';
import { RequestRates } from './request-rates.js';

/** Outcome label of `crank_requests_total`: `ok` or the contract error code. */
export type RequestOutcome = string;

/** The `capability` label of calls naming a capability no worker offers and no catalog lists. */
export const UNKNOWN_CAPABILITY_LABEL = 'unknown';

/**
 * The controller's Prometheus metrics, on a registry of its own (several controllers can run in one
 * process in tests). Gauges about workers are computed at scrape time from the registry. Label
 * values come only from registered workers and the catalog, never from what a caller typed: a
 * caller naming 20,000 capabilities that do not exist adds one series, `unknown`.
 */
export class ControllerMetrics {
  readonly registry = new Registry();
  readonly requests: SeriesCounter<'capability' | 'outcome'>;
  readonly duration: SeriesHistogram<'capability'>;
  readonly contractViolations: Counter<'capability' | 'worker'>;
  readonly retries: Counter<'capability'>;
  readonly jobsFinished: Counter<'capability' | 'state'>;
  readonly jobProcessing: Histogram<'capability'>;
  private readonly recordCall: (capability: string, outcome: string, seconds: number) => void;
  /** Calls and errors of the last 15 minutes, for the dashboard. */
  readonly rates = new RequestRates();

  constructor(
    private readonly workers: WorkerRegistry,
    router: Router,
    budget: ByteBudget,
  ) {
    const registers = [this.registry];
    // Event-loop lag is sampled every 100 ms, not prom-client's 10 ms: a 10 ms timer alone costs
    // about 1 % of a core and wakes the process 100 times a second, busy or idle.
    collectDefaultMetrics({
      register: this.registry,
      prefix: 'crank_controller_',
      eventLoopMonitoringPrecision: 100,
    });
    this.requests = new SeriesCounter(
      'crank_requests_total',
      'Calls routed by the controller, by capability and outcome (ok or the contract error code).',
      ['capability', 'outcome'],
    );
    this.duration = new SeriesHistogram(
      'crank_request_duration_seconds',
      'Time from the call reaching the controller to its answer, including queueing.',
      ['capability'],
      CALL_DURATION_BUCKETS,
    );
    // Series metrics speak prom-client's metric shape; its types do not know them.
    this.registry.registerMetric(this.requests as unknown as Metric);
    this.registry.registerMetric(this.duration as unknown as Metric);
    this.recordCall = callRecorder(
      (capability, outcome) => this.requests.series({ capability, outcome }),
      (capability) => this.duration.series({ capability }),
    );
    this.contractViolations = new Counter({
      name: 'crank_contract_violations_total',
      help: 'Worker answers that broke the capability output schema.',
      labelNames: ['capability', 'worker'],
      registers,
    });
    this.retries = new Counter({
      name: 'crank_retries_total',
      help: 'Calls sent again to another worker because the first never accepted them.',
      labelNames: ['capability'],
      registers,
    });
    new Gauge({
      name: 'crank_workers',
      help: 'Live workers by capability and state.',
      labelNames: ['capability', 'state'],
      registers,
      collect() {
        this.reset();
        for (const worker of workers.list()) {
          const state = workerState(worker, router.outOfRotation(worker.id));
          for (const id of new Set([...worker.offers.values()].map((o) => o.capability.id))) {
            this.inc({ capability: id, state });
          }
        }
      },
    });
    new Gauge({
      name: 'crank_inflight',
      help: 'Calls routed to each worker and not yet answered.',
      labelNames: ['worker'],
      registers,
      collect() {
        this.reset();
        for (const worker of workers.list()) this.set({ worker: worker.id }, workerInFlight(worker));
      },
    });
    this.jobsFinished = new Counter({
      name: 'crank_job_attempts_total',
      help: 'Job attempts ended by this controller, by capability and the state the job went to.',
      labelNames: ['capability', 'state'],
      registers,
    });
    this.jobProcessing = new Histogram({
      name: 'crank_job_processing_seconds',
      help: 'Time from a job attempt reaching a worker to its end.',
      labelNames: ['capability'],
      buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600, 3600],
      registers,
    });
    new Gauge({
      name: 'crank_inflight_payload_bytes',
      help: 'Payload bytes held for calls in flight (capped by CRANK_MAX_INFLIGHT_BYTES).',
      registers,
      collect() {
        this.set(budget.inUse);
      },
    });
    new Gauge({
      name: 'crank_queue_depth',
      help: 'Calls waiting for a free worker slot, by capability.',
      labelNames: ['capability'],
      registers,
      collect() {
        this.reset();
        for (const [capability, depth] of router.queueDepths()) this.set({ capability }, depth);
      },
    });
  }

  /** The label for a capability a caller named: itself when offered or in the catalog, else `unknown`. */
  capabilityLabel(id: string): string {
    if (this.workers.offers(id)) return id;
    return this.workers.catalog.find(id) !== undefined ? id : UNKNOWN_CAPABILITY_LABEL;
  }

  /** Counts one routed call and its duration. */
  recordRequest(capability: string, outcome: string, seconds: number): void {
    const label = this.capabilityLabel(capability);
    this.recordCall(label, outcome, seconds);
    this.rates.record(outcome !== 'ok');
  }

  /** Counts an ended job attempt. */
  jobFinished(job: JobRecord, state: string, processingMs: number | undefined): void {
    const capability = this.capabilityLabel(job.capability);
    this.jobsFinished.inc({ capability, state });
    if (processingMs !== undefined) this.jobProcessing.observe({ capability }, processingMs / 1e3);
  }

  /** Adds the job store's gauges (read at scrape time): jobs by state, due jobs by capability. */
  watchJobs(jobs: JobService): void {
    const registers = [this.registry];
    const label = (id: string): string => this.capabilityLabel(id);
    let summary: ReturnType<JobService['summary']> | undefined;
    // One store query serves both gauges of a scrape.
    const read = (): ReturnType<JobService['summary']> => {
      summary ??= jobs.summary(0).finally(() => {
        setImmediate(() => (summary = undefined));
      });
      return summary;
    };
    new Gauge({
      name: 'crank_jobs',
      help: 'Jobs in the store, by state.',
      labelNames: ['state'],
      registers,
      async collect() {
        const { byState } = await read();
        for (const [state, count] of Object.entries(byState)) this.set({ state }, count);
      },
    });
    new Gauge({
      name: 'crank_job_queue_depth',
      help: 'Jobs due and waiting for a worker, by capability.',
      labelNames: ['capability'],
      registers,
      async collect() {
        const { queueDepth } = await read();
        this.reset();
        for (const [capability, count] of Object.entries(queueDepth))
          this.inc({ capability: label(capability) }, count);
      },
    });
  }
}
