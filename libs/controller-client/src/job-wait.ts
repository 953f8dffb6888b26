import { CrankError } from '@crank/capabilities';
import { isTerminalJobState, lastEventId, type JobEventInfo, type JobInfo } from './job-info.js';
import type { JobCallOptions } from './job-options.js';
import type { WatchJobsFilter, WatchJobsOptions } from './job-watch.js';

/** How `jobs.wait` waits. */
export interface WaitJobOptions<O = unknown> extends WatchJobsOptions {
  /** Stops waiting: `wait` rejects with CANCELLED (the job goes on). */
  signal?: AbortSignal;
  /** Longest wait; `wait` then rejects with DEADLINE_EXCEEDED (the job goes on). @default no limit */
  timeoutMs?: number;
  /** Called with the job as first read and at each event until it ends (not with the end itself). */
  onProgress?(job: JobInfo<O>): void;
  /**
   * While the watch is quiet, the job is read again this often, so that an event lost with a
   * stream (or skipped by a watcher that took a slow commit for a rollback) cannot keep `wait`
   * waiting long; one read per interval per waiter. @default 5000
   */
  pollIntervalMs?: number;
}

/** The calls {@link waitForJob} makes; a `JobsClient` is one. */
export interface JobFollower {
  get<O>(id: string, options?: JobCallOptions): Promise<JobInfo<O>>;
  watch<O>(filter?: WatchJobsFilter, options?: WatchJobsOptions): AsyncIterable<JobEventInfo<O>>;
}

/**
 * Waits for the job `id` to end (completed, failed, cancelled or dead_letter) and resolves with it.
 * Reads the job once, then follows its events from the last one in its history, so that no event
 * between the two is missed; reads it again whenever the watch stays quiet for `pollIntervalMs`.
 * Once settled, the watch, the poll and any read in flight are let go.
 *
 * @throws CrankError CANCELLED when `signal` aborts, DEADLINE_EXCEEDED past `timeoutMs`,
 *   INVALID_INPUT for an option out of range, NOT_FOUND for an unknown job, or the watch's error
 */
export function waitForJob<O>(
  jobs: JobFollower,
  id: string,
  options: WaitJobOptions<O>,
): Promise<JobInfo<O>> {
  const { signal, timeoutMs, onProgress, pollIntervalMs = 5_000 } = options;
  if (timeoutMs !== undefined && !(timeoutMs > 0))
    return Promise.reject(invalid(`timeoutMs: must be a positive number (got ${timeoutMs})`));
  if (!(pollIntervalMs > 0))
    return Promise.reject(invalid(`pollIntervalMs: must be a positive number (got ${pollIntervalMs})`));

  return new Promise<JobInfo<O>>((resolve, reject) => {
    // Aborted once the wait settles: stops the watch, the poll and any read in flight.
    const over = new AbortController();
    let poll: NodeJS.Timeout | undefined;
    let deadline: NodeJS.Timeout | undefined;

    const finish = (outcome: { job: JobInfo<O> } | { error: unknown }): void => {
      if (over.signal.aborted) return;
      over.abort();
      clearTimeout(poll);
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
      if ('job' in outcome) resolve(outcome.job);
      else reject(outcome.error);
    };
    /** Settles with `current` when it has ended; tells whether it did. */
    const ended = (current: JobInfo<O>): boolean => {
      if (!isTerminalJobState(current.state)) return false;
      finish({ job: current });
      return true;
    };
    const progress = (current: JobInfo<O>): void => {
      try {
        onProgress?.(current);
      } catch (error) {
        finish({ error });
      }
    };
    const onAbort = (): void =>
      finish({
        error: new CrankError('CANCELLED', `wait: stopped waiting for job ${id}`, { cause: signal?.reason }),
      });
    /** (Re)arms the read that runs when the watch has been quiet for `pollIntervalMs`. */
    const schedulePoll = (): void => {
      clearTimeout(poll);
      if (over.signal.aborted) return;
      poll = setTimeout(() => {
        jobs.get<O>(id, { signal: over.signal }).then(
          (current) => {
            if (!ended(current)) schedulePoll();
          },
          (error: unknown) => {
            // A transient failure is the watch's to mend; the next poll tries again.
            if (error instanceof CrankError && (error.retryable || error.code === 'CANCELLED'))
              schedulePoll();
            else finish({ error });
          },
        );
      }, pollIntervalMs);
    };
    const follow = async (): Promise<void> => {
      const first = await jobs.get<O>(id, { signal: over.signal });
      if (ended(first)) return;
      progress(first);
      schedulePoll();
      const events = jobs.watch<O>(
        { ids: [id], afterEventId: lastEventId(first) },
        { ...options, signal: over.signal },
      );
      for await (const event of events) {
        if (event.job.id !== id) continue;
        if (ended(event.job)) return;
        schedulePoll();
        progress(event.job);
      }
    };

    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined) {
      deadline = setTimeout(
        () =>
          finish({
            error: new CrankError('DEADLINE_EXCEEDED', `wait: job ${id} did not end within ${timeoutMs} ms`),
          }),
        timeoutMs,
      );
    }
    // The watch ends only when `over` aborts, that is once settled; the fallback is never expected.
    follow().then(
      () =>
        finish({ error: new CrankError('UNAVAILABLE', `wait: the watch of job ${id} ended before the job`) }),
      (error: unknown) => finish({ error }),
    );
  });
}

function invalid(message: string): CrankError {
  return new CrankError('INVALID_INPUT', message);
}
