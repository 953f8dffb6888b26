import { CrankError } from '@crank/capabilities';
import { Payload } from '@crank/proto';
import type { Logger } from 'pino';
import type { InvocationService } from '../invoke/invocation-service.js';
import type { Router } from '../routing/router.js';
import type { AttemptOutcome, JobError, JobRecord, JobStore } from './job-store.js';

/** Codes after which a job's attempt is tried again (while attempts are left). */
export const RETRYABLE_JOB_CODES: ReadonlySet<string> = new Set([
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'RESOURCE_EXHAUSTED',
  'MODEL_NOT_READY',
]);

/**
 * How long after an attempt reaches a worker its `processing` state is written. Most attempts of
 * short jobs end sooner, and then write it with their outcome.
 */
export const PROCESSING_WRITE_DELAY_MS = 50;

/** Longest wait before a retry, whatever the backoff and attempt. */
const MAX_BACKOFF_MS = 3_600_000;

export interface JobDispatcherOptions {
  store: JobStore;
  invocations: InvocationService;
  router: Router;
  logger: Logger;
  /** Added to a job's timeout to make its lease: time to write the outcome. */
  leaseGraceMs: number;
  /** How often due jobs (delayed, backed off, from other controllers), cancels and leases are checked. */
  pollIntervalMs: number;
  /** Finished jobs older than this are purged, hourly. */
  retentionMs: number;
  /** Told of every write, so that watchers hear of it at once. */
  onChange?: () => void;
  /** Told of each finished attempt, for metrics. */
  onFinished?: (job: JobRecord, outcome: AttemptOutcome, processingMs: number | undefined) => void;
  now?: () => number;
  random?: () => number;
}

/** Why a running attempt was aborted by the controller. */
class AttemptAbort extends Error {
  constructor(readonly reason: 'cancel' | 'shutdown') {
    super(reason === 'cancel' ? 'the job was cancelled' : 'the controller is shutting down');
  }
}

interface RunningAttempt {
  job: JobRecord;
  abort: AbortController;
  done: Promise<void>;
}

/**
 * Runs jobs: claims the most urgent due job of a capability with a free worker slot, leases it,
 * invokes it through the same router as `Invoke`, and writes the outcome. Every write happens
 * before the next step acts on it; an outcome is written only under the attempt's lease token.
 *
 * It claims no more jobs than there are free slots, so jobs wait in the store (durable, ordered by
 * priority) rather than in the router's memory. It is woken when a job is submitted and when a
 * slot frees, and polls every `pollIntervalMs` for what no event announces here: delayed jobs
 * falling due, jobs submitted through another controller, cancels asked elsewhere, leases that
 * expired because their controller died.
 */
export class JobDispatcher {
  private readonly running = new Map<string, RunningAttempt>();
  /** Claimed jobs not yet holding a router lease, by capability: they use a free slot already. */
  private readonly claiming = new Map<string, number>();
  private readonly now: () => number;
  private readonly random: () => number;
  private pollTimer: NodeJS.Timeout | undefined;
  private dueTimer: NodeJS.Timeout | undefined;
  private dueAt = Number.POSITIVE_INFINITY;
  private purgeTimer: NodeJS.Timeout | undefined;
  private passing = false;
  private passAgain = false;
  /** False once a claim found nothing: capacity events then cost no query until something is due. */
  private mayHaveDue = true;
  private stopped = false;

  constructor(private readonly options: JobDispatcherOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** Jobs running in this controller now. */
  get inFlight(): number {
    return this.running.size;
  }

  /** Requeues jobs whose leases expired while no controller ran them, then starts dispatching. */
  async start(): Promise<void> {
    const requeued = await this.options.store.requeueExpired(this.now());
    if (requeued > 0) {
      this.options.logger.warn(
        { event: 'jobs_requeued', count: requeued },
        'jobs whose lease expired went back to pending',
      );
    }
    const poll = (): void => {
      this.pollTimer = setTimeout(() => {
        void this.poll().finally(() => {
          if (!this.stopped) poll();
        });
      }, this.options.pollIntervalMs);
      this.pollTimer.unref();
    };
    poll();
    const purge = (): void => {
      void this.purge();
      this.purgeTimer = setTimeout(purge, 3_600_000);
      this.purgeTimer.unref();
    };
    purge();
    this.wake(true);
  }

  /**
   * Something may be claimable: a job was submitted or retried (`due` true), or a worker slot
   * freed. Passes never overlap; a wake during one runs another after it.
   */
  wake(due = false): void {
    if (due) this.mayHaveDue = true;
    if (this.stopped || !this.mayHaveDue) return;
    if (this.passing) {
      this.passAgain = true;
      return;
    }
    void this.pass();
  }

  /**
   * Something falls due at `at` (a delayed job, a retry after its backoff): a pass then, rather
   * than at the next poll. One timer, for the earliest such time.
   */
  wakeAt(at: number): void {
    if (this.stopped) return;
    if (this.dueTimer && this.dueAt <= at) return;
    clearTimeout(this.dueTimer);
    this.dueAt = at;
    this.dueTimer = setTimeout(
      () => {
        this.dueTimer = undefined;
        this.dueAt = Number.POSITIVE_INFINITY;
        // A timer may fire a millisecond before the clock reads `at`: the claim would find
        // nothing due yet, and the job would wait for the next poll.
        if (this.now() < at) this.wakeAt(at);
        else this.wake(true);
      },
      Math.max(0, Math.min(at - this.now(), this.options.pollIntervalMs)),
    );
    this.dueTimer.unref();
  }

  /** Aborts the attempt of `jobId` if it runs here; the job then ends `cancelled`. */
  cancelLocal(jobId: string): boolean {
    const attempt = this.running.get(jobId);
    if (!attempt) return false;
    attempt.abort.abort(new AttemptAbort('cancel'));
    return true;
  }

  /**
   * Stops claiming; lets running attempts finish for up to `graceMs`, then aborts them. An
   * aborted attempt goes back to pending (the attempt counted) for any controller to take.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    clearTimeout(this.dueTimer);
    clearTimeout(this.purgeTimer);
    const all = Promise.all([...this.running.values()].map((attempt) => attempt.done));
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      all.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (!finished) {
      for (const attempt of this.running.values()) attempt.abort.abort(new AttemptAbort('shutdown'));
      await all;
    }
  }

  private async pass(): Promise<void> {
    this.passing = true;
    try {
      while (!this.stopped) {
        const claimable = this.claimable();
        // No slot free: whatever is due stays due; the next freed slot wakes this again.
        if (claimable.length === 0) break;
        let claimedAny = false;
        let drained = true;
        // One claim per capability with free slots, for as many jobs as it has slots.
        for (const [capability, free] of claimable) {
          const jobs = await this.options.store.claim(
            [capability],
            this.now(),
            this.options.leaseGraceMs,
            free,
          );
          // Fewer than asked: nothing more of it is due now, and no second query needs to say so.
          if (jobs.length === free) drained = false;
          for (const job of jobs) {
            claimedAny = true;
            this.claiming.set(job.capability, (this.claiming.get(job.capability) ?? 0) + 1);
            this.run(job);
          }
        }
        if (claimedAny) this.options.onChange?.();
        if (drained) {
          this.mayHaveDue = false;
          break;
        }
      }
    } catch (error) {
      this.options.logger.error(
        { event: 'job_dispatch_failed', err: error },
        'could not claim a job; trying again shortly',
      );
    } finally {
      this.passing = false;
      if (this.passAgain) {
        this.passAgain = false;
        this.wake();
      }
    }
  }

  /** Capabilities with slots free after the jobs already claimed for them, with how many. */
  private claimable(): [string, number][] {
    const free: [string, number][] = [];
    for (const [id, slots] of this.options.router.freeSlots()) {
      const left = slots - (this.claiming.get(id) ?? 0);
      if (left > 0) free.push([id, left]);
    }
    return free;
  }

  private run(job: JobRecord): void {
    const abort = new AbortController();
    let claimed = true;
    const release = (): void => {
      if (!claimed) return;
      claimed = false;
      const left = (this.claiming.get(job.capability) ?? 1) - 1;
      if (left > 0) this.claiming.set(job.capability, left);
      else this.claiming.delete(job.capability);
    };
    const attempt: RunningAttempt = { job, abort, done: Promise.resolve() };
    this.running.set(job.id, attempt);
    attempt.done = this.attempt(job, abort.signal, release).finally(() => {
      release();
      this.running.delete(job.id);
      this.wake();
    });
  }

  private async attempt(job: JobRecord, signal: AbortSignal, dispatched: () => void): Promise<void> {
    const { store, logger } = this.options;
    // `processing` is written a moment after the attempt reaches a worker; an attempt that ends
    // before that writes it with its outcome, in one transaction instead of two.
    let dispatch: { workerId: string; at: number } | undefined;
    let processingTimer: NodeJS.Timeout | undefined;
    let processing: Promise<void> = Promise.resolve();
    let outcome: AttemptOutcome;
    try {
      const result = await this.options.invocations.invoke({
        capability: job.capability,
        range: job.range,
        input: Payload.fromPartial({ contentType: job.input.contentType, data: job.input.data }),
        requestId: job.id,
        caller: job.caller,
        deadlineMs: this.now() + job.timeoutMs,
        signal,
        jobId: job.id,
        onDispatched: (workerId) => {
          dispatched();
          if (dispatch || processingTimer) return;
          dispatch = { workerId, at: this.now() };
          processingTimer = setTimeout(() => {
            processingTimer = undefined;
            const written = dispatch;
            if (!written) return;
            processing = store.markProcessing(job.id, job.leaseToken, written.workerId, written.at).then(
              (held) => {
                dispatch = undefined;
                if (held) this.options.onChange?.();
              },
              () => undefined,
            );
          }, PROCESSING_WRITE_DELAY_MS);
          processingTimer.unref();
        },
      });
      outcome = {
        state: 'completed',
        output: { contentType: result.output.contentType, data: Buffer.from(result.output.data) },
      };
    } catch (error) {
      outcome = this.failure(job, error, signal);
    }
    clearTimeout(processingTimer);
    processingTimer = undefined;
    const startedAt = dispatch?.at;
    try {
      await processing;
      const written = await store.finish(job.id, job.leaseToken, outcome, this.now(), dispatch);
      if (!written) {
        logger.warn(
          { event: 'job_lease_lost', jobId: job.id, attempt: job.attempts, state: outcome.state },
          'the attempt finished after its lease was given up; its outcome is dropped',
        );
        return;
      }
      this.options.onChange?.();
      this.options.onFinished?.(job, outcome, startedAt === undefined ? undefined : this.now() - startedAt);
      if (outcome.state === 'pending') {
        this.wakeAt(outcome.runAt);
        logger.info(
          {
            event: 'job_retry_scheduled',
            jobId: job.id,
            attempt: job.attempts,
            code: outcome.error.code,
            runAt: outcome.runAt,
          },
          'job attempt failed; it will be tried again',
        );
      } else if (outcome.state !== 'completed') {
        logger.info(
          {
            event: 'job_ended',
            jobId: job.id,
            state: outcome.state,
            attempt: job.attempts,
            code: outcome.error.code,
          },
          'job ended without a result',
        );
      }
    } catch (error) {
      // The lease will expire and the job go back to pending: nothing is lost, the attempt is counted.
      logger.error(
        { event: 'job_write_failed', jobId: job.id, err: error },
        'could not write the outcome of a job attempt',
      );
    }
  }

  /** What a failed attempt means for the job: another try later, or its end. */
  private failure(job: JobRecord, error: unknown, signal: AbortSignal): AttemptOutcome {
    const reason: unknown = signal.aborted ? signal.reason : undefined;
    if (reason instanceof AttemptAbort && reason.reason === 'cancel') {
      return {
        state: 'cancelled',
        error: { code: 'CANCELLED', message: 'the job was cancelled while it ran', retryable: false },
      };
    }
    if (reason instanceof AttemptAbort) {
      // Not the job's fault: it goes back for another controller, whatever its attempts.
      return {
        state: 'pending',
        error: { code: 'UNAVAILABLE', message: reason.message, retryable: true },
        runAt: this.now(),
      };
    }
    const crank =
      error instanceof CrankError
        ? error
        : new CrankError('INTERNAL', (error as Error)?.message ?? 'internal error');
    const jobError: JobError = {
      code: crank.code,
      message: crank.message,
      ...(crank.details ? { details: crank.details } : {}),
      retryable: RETRYABLE_JOB_CODES.has(crank.code),
    };
    if (!jobError.retryable) return { state: 'failed', error: jobError };
    if (job.attempts >= job.maxAttempts) return { state: 'dead_letter', error: jobError };
    return { state: 'pending', error: jobError, runAt: this.now() + this.backoffMs(job) };
  }

  /** Exponential backoff with jitter: base x 2^(attempt-1), between half and all of it. */
  private backoffMs(job: JobRecord): number {
    const ceiling = Math.min(MAX_BACKOFF_MS, job.backoffMs * 2 ** Math.min(job.attempts - 1, 20));
    return Math.round(ceiling * (0.5 + this.random() * 0.5));
  }

  private async poll(): Promise<void> {
    const { store, logger } = this.options;
    try {
      const requeued = await store.requeueExpired(this.now());
      if (requeued > 0) {
        logger.warn(
          { event: 'jobs_requeued', count: requeued },
          'jobs whose lease expired went back to pending',
        );
        this.options.onChange?.();
      }
      const cancelled = await store.cancelRequested([...this.running.keys()]);
      for (const id of cancelled) this.cancelLocal(id);
    } catch (error) {
      logger.error({ event: 'job_poll_failed', err: error }, 'could not check leases and cancels');
    }
    this.wake(true);
  }

  private async purge(): Promise<void> {
    const { store, logger } = this.options;
    try {
      let purged = 0;
      for (;;) {
        const batch = await store.purgeFinished(this.now() - this.options.retentionMs, 1_000);
        purged += batch;
        if (batch < 1_000 || this.stopped) break;
      }
      if (purged > 0)
        logger.info({ event: 'jobs_purged', count: purged }, 'purged finished jobs past retention');
    } catch (error) {
      logger.error({ event: 'job_purge_failed', err: error }, 'could not purge finished jobs');
    }
  }
}
