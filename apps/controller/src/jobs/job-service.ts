import { once, EventEmitter } from 'node:events';
import { CrankError, satisfiesRange, type Capability, type CapabilityCatalog } from '@crank/capabilities';
import { Payload, WIRE_LIMITS, echo } from '@crank/proto';
import type { Logger } from 'pino';
import { checkCallNames } from '../invoke/invocation-service.js';
import { checkInput } from '../invoke/payloads.js';
import type { Router } from '../routing/router.js';
import type { JobDispatcher } from './job-dispatcher.js';
import type { JobEventRecord, JobFilter, JobPayload, JobRecord, JobStore, JobSummary } from './job-store.js';

/** A submit as it reaches the controller, from gRPC or HTTP; unset fields take the defaults. */
export interface SubmitJob {
  capability: string;
  range?: string;
  input: JobPayload;
  priority?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  backoffMs?: number;
  /** Epoch ms; not before. */
  runAt?: number;
  idempotencyKey?: string;
}

/** Defaults and bounds of a job's settings. */
export const JOB_DEFAULTS = Object.freeze({
  priority: 5,
  maxAttempts: 3,
  timeoutMs: 300_000,
  backoffMs: 1_000,
  maxMaxAttempts: 100,
  maxBackoffMs: 3_600_000,
  /** A delayed job may be due at most this far ahead (one year). */
  maxDelayMs: 366 * 86_400_000,
  maxIdempotencyKeyLength: 128,
});

/** Filters of {@link JobService.watch}. */
export interface WatchFilter {
  capability?: string;
  ids?: readonly string[];
  /** Resume after this event id; from now on when undefined. */
  afterEventId?: number;
}

export interface JobServiceOptions {
  store: JobStore;
  dispatcher: JobDispatcher;
  router: Router;
  catalog: CapabilityCatalog;
  maxInputBytes: number;
  logger: Logger;
  /**
   * Versions of a capability that other controllers sharing the store offer (none without a
   * shared store): a job for them is accepted here and runs there.
   */
  remoteVersions?: (capabilityId: string) => Promise<string[]>;
  now?: () => number;
}

/** Shortest gap between two stored progress reports of one job; the last of a burst is kept. */
const PROGRESS_INTERVAL_MS = 250;
/** How often watchers look for events written by other controllers. */
const WATCH_POLL_MS = 250;
/** Events read per query of a watcher. */
const WATCH_BATCH = 500;
/** Longest a watcher holds back behind a missing event id before taking it for a rollback. */
const WATCH_GAP_WAIT_MS = 2_000;
/** How often a watcher held back by a missing id looks again. */
const WATCH_GAP_POLL_MS = 20;

/**
 * What callers can do with jobs, for both APIs (gRPC and HTTP): submit with the checks a call
 * gets (capability, media type, schema, sizes), read, list, cancel, retry, watch, and the
 * progress reports of running attempts.
 */
export class JobService {
  private readonly changes = new EventEmitter();
  private readonly now: () => number;
  private readonly lastProgress = new Map<string, number>();

  constructor(private readonly options: JobServiceOptions) {
    this.now = options.now ?? Date.now;
    this.changes.setMaxListeners(0);
  }

  /** Wakes watchers: called on every write this controller makes. */
  notify(): void {
    this.changes.emit('change');
  }

  /**
   * Checks and stores a job. The capability must be offered or in the catalog, not streaming, and
   * the input must be of a media type it takes and satisfy its schema, as for `Invoke`.
   *
   * @throws CrankError INVALID_INPUT, NOT_FOUND, FAILED_PRECONDITION, UNSUPPORTED_FORMAT,
   *   PAYLOAD_TOO_LARGE
   */
  async submit(request: SubmitJob, caller: string): Promise<{ job: JobRecord; created: boolean }> {
    const range = request.range ?? '';
    checkCallNames({ capability: request.capability, range, requestId: '' });
    const size = request.input.data.byteLength;
    if (size > this.options.maxInputBytes) {
      throw new CrankError(
        'PAYLOAD_TOO_LARGE',
        `input: ${size} bytes is more than the ${this.options.maxInputBytes} a job may carry (CRANK_JOB_MAX_INPUT)`,
        { details: { bytes: size, limitBytes: this.options.maxInputBytes } },
      );
    }
    const capability = await this.capabilityOf(request.capability, range);
    // A capability offered only through another controller is checked where it runs.
    if (capability) {
      if (capability.definition.streaming !== 'none') {
        throw new CrankError(
          'FAILED_PRECONDITION',
          `capability "${capability.id}" streams (${capability.definition.streaming}); jobs run unary capabilities only`,
        );
      }
      checkInput(
        capability,
        Payload.fromPartial({ contentType: request.input.contentType, data: request.input.data }),
      );
    }
    const now = this.now();
    const priority = bounded('priority', request.priority ?? JOB_DEFAULTS.priority, 0, 10);
    const maxAttempts = bounded(
      'maxAttempts',
      request.maxAttempts || JOB_DEFAULTS.maxAttempts,
      1,
      JOB_DEFAULTS.maxMaxAttempts,
    );
    const timeoutMs = bounded(
      'timeoutMs',
      request.timeoutMs || JOB_DEFAULTS.timeoutMs,
      1,
      WIRE_LIMITS.maxDeadlineMs,
    );
    const backoffMs = bounded(
      'backoffMs',
      request.backoffMs || JOB_DEFAULTS.backoffMs,
      1,
      JOB_DEFAULTS.maxBackoffMs,
    );
    const runAt = request.runAt ? bounded('runAt', request.runAt, 0, now + JOB_DEFAULTS.maxDelayMs) : now;
    const idempotencyKey = request.idempotencyKey ?? '';
    if (idempotencyKey.length > JOB_DEFAULTS.maxIdempotencyKeyLength) {
      throw new CrankError(
        'INVALID_INPUT',
        `idempotencyKey: must be at most ${JOB_DEFAULTS.maxIdempotencyKeyLength} characters (got ${idempotencyKey.length})`,
      );
    }
    const result = await this.options.store.submit(
      {
        capability: request.capability,
        range,
        input: request.input,
        priority,
        maxAttempts,
        timeoutMs,
        backoffMs,
        runAt: Math.max(runAt, now),
        caller,
        idempotencyKey,
      },
      now,
    );
    if (result.created) {
      this.notify();
      if (result.job.runAt > now) this.options.dispatcher.wakeAt(result.job.runAt);
      else this.options.dispatcher.wake(true);
    }
    return result;
  }

  /** @throws CrankError NOT_FOUND */
  async get(id: string): Promise<{ job: JobRecord; timeline: JobEventRecord[] }> {
    const job = await this.options.store.get(checkId(id));
    if (!job) throw notFound(id);
    return { job, timeline: await this.options.store.timeline(id) };
  }

  /**
   * Cancels a job: a pending one at once, a running one as soon as its controller sees the request
   * (at once when that is this one). A finished job is returned as it is.
   * @throws CrankError NOT_FOUND
   */
  async cancel(id: string): Promise<JobRecord> {
    const job = await this.options.store.requestCancel(checkId(id), this.now());
    if (!job) throw notFound(id);
    this.options.dispatcher.cancelLocal(id);
    this.notify();
    return job;
  }

  /** @throws CrankError NOT_FOUND, FAILED_PRECONDITION (not failed or dead-lettered) */
  async retry(id: string): Promise<JobRecord> {
    const job = await this.options.store.retry(checkId(id), this.now());
    this.notify();
    this.options.dispatcher.wake(true);
    return job;
  }

  list(filter: JobFilter): Promise<{ jobs: JobRecord[]; nextCursor: string | undefined }> {
    return this.options.store.list(filter);
  }

  /**
   * The id of the newest job event (0 when none). A watch that starts after it misses nothing
   * written from now on: read it before telling a client that its watch is open.
   */
  lastEventId(): Promise<number> {
    return this.options.store.lastEventId();
  }

  summary(windowMs = 15 * 60_000): Promise<JobSummary> {
    return this.options.store.summary(this.now(), windowMs);
  }

  /**
   * Records the progress a worker reports for the job it runs (at most one write per job every
   * 250 ms; a report of 1 always passes). Reports for jobs not running on that worker are ignored.
   */
  async progress(jobId: string, workerId: string, fraction: number, message: string): Promise<boolean> {
    const now = this.now();
    const last = this.lastProgress.get(jobId) ?? 0;
    if (fraction < 1 && now - last < PROGRESS_INTERVAL_MS) return false;
    this.lastProgress.set(jobId, now);
    if (this.lastProgress.size > 10_000)
      this.lastProgress.delete(this.lastProgress.keys().next().value as string);
    const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
    const written = await this.options.store.progress(jobId, workerId, clamped, message.slice(0, 500), now);
    if (written) this.notify();
    return written;
  }

  /**
   * Job events as they are written, by this controller or another on the same store, each with
   * the job as it is after it. Resumable: pass the last event id seen as `afterEventId`.
   */
  async *watch(
    filter: WatchFilter,
    signal: AbortSignal,
  ): AsyncGenerator<{ event: JobEventRecord; job: JobRecord }> {
    const { store } = this.options;
    const ids = filter.ids && filter.ids.length > 0 ? new Set(filter.ids) : undefined;
    let after = filter.afterEventId ?? (await store.lastEventId());
    /** Since when the next event id has been missing while later ones are visible. */
    let gapSince: number | undefined;
    while (!signal.aborted) {
      const events = await store.eventsAfter(after, WATCH_BATCH);
      const ready: JobEventRecord[] = [];
      let waiting = false;
      for (const event of events) {
        if (event.id !== after + 1) {
          // A hole: on PostgreSQL ids are handed out at insert and transactions commit in any
          // order, so the missing event may still be committing; or it was rolled back and never
          // comes. Hold back until it shows, or until it cannot be a commit in progress.
          gapSince ??= this.now();
          if (this.now() - gapSince < WATCH_GAP_WAIT_MS) {
            waiting = true;
            break;
          }
        }
        gapSince = undefined;
        after = event.id;
        if (!ids || ids.has(event.jobId)) ready.push(event);
      }
      // One read for the jobs of a batch, as they are now.
      const jobs = await store.getMany([...new Set(ready.map((event) => event.jobId))]);
      for (const event of ready) {
        const job = jobs.get(event.jobId);
        // A job purged since the event was written has nothing left to show.
        if (!job || (filter.capability && job.capability !== filter.capability)) continue;
        yield { event, job };
      }
      if (events.length === WATCH_BATCH && !waiting) continue;
      await this.nextChange(signal, waiting ? WATCH_GAP_POLL_MS : WATCH_POLL_MS);
    }
  }

  /** Resolves on the next local write, after the poll interval, or when `signal` aborts. */
  private async nextChange(signal: AbortSignal, waitMs: number): Promise<void> {
    const timeout = AbortSignal.timeout(waitMs);
    try {
      await once(this.changes, 'change', { signal: AbortSignal.any([signal, timeout]) });
    } catch {
      // timed out or aborted: look again (the loop checks `signal`)
    }
  }

  /**
   * The capability a job will run: the version offered here for the range, else the catalog's;
   * undefined when only another controller sharing the store offers it.
   * @throws the router's NOT_FOUND when nobody offers it
   */
  private async capabilityOf(id: string, range: string): Promise<Capability | undefined> {
    try {
      return this.options.router.resolve(id, range);
    } catch (error) {
      const fromCatalog = this.options.catalog.find(id, range);
      if (fromCatalog) return fromCatalog;
      const remote = (await this.options.remoteVersions?.(id)) ?? [];
      if (remote.some((version) => satisfiesRange(version, range))) return undefined;
      throw error;
    }
  }
}

function bounded(field: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || !Number.isInteger(value) || value < min || value > max) {
    throw new CrankError(
      'INVALID_INPUT',
      `${field}: must be a whole number from ${min} to ${max} (got ${value})`,
    );
  }
  return value;
}

/** Job ids are UUIDs; anything else is refused before it reaches the store. */
function checkId(id: string): string {
  if (!/^[0-9a-f-]{36}$/i.test(id))
    throw new CrankError('INVALID_INPUT', `id: "${echo(id, 40)}" is not a job id`);
  return id.toLowerCase();
}

function notFound(id: string): CrankError {
  return new CrankError('NOT_FOUND', `job "${id}" does not exist (or was purged after its retention)`, {
    details: { id },
  });
}
