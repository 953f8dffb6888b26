import type { JobState } from './job-state.js';

/** Bytes with their media type: a job's input or output. */
export interface JobPayload {
  contentType: string;
  data: Buffer;
}

/** The contract error a job ended with (or its last attempt failed with). */
export interface JobError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
  retryable: boolean;
}

/** A job as stored. Times are epoch milliseconds. */
export interface JobRecord {
  /** UUIDv7: sorts by creation time. */
  id: string;
  capability: string;
  /** Semver range of the capability; empty for any. */
  range: string;
  state: JobState;
  /** 0 (lowest) to 10 (highest). */
  priority: number;
  /** Attempts started so far. */
  attempts: number;
  maxAttempts: number;
  /** Deadline of one attempt. */
  timeoutMs: number;
  /** First retry delay; each further retry doubles it (with jitter). */
  backoffMs: number;
  /** When the job is due: its delayed start, or its next attempt after a retryable failure. */
  runAt: number;
  input: JobPayload;
  output: JobPayload | undefined;
  error: JobError | undefined;
  /** 0 to 1, as the handler last reported it. */
  progress: number;
  progressMessage: string;
  /** The worker of the current or last attempt. */
  workerId: string;
  /** Identity of the submitter (certificate CN or HTTP key name). */
  caller: string;
  idempotencyKey: string;
  /** A cancel was asked while an attempt ran; the controller running it aborts it. */
  cancelRequested: boolean;
  /** Proof of ownership of the running attempt: only its holder may write the outcome. */
  leaseToken: string;
  /** When the running attempt's lease ends; a job still running then goes back to pending. */
  leaseExpiresAt: number;
  createdAt: number;
  updatedAt: number;
  startedAt: number | undefined;
  finishedAt: number | undefined;
}

/** One line of a job's history, and the unit of `watch` (its `id` orders and resumes streams). */
export interface JobEventRecord {
  id: number;
  jobId: string;
  at: number;
  kind: 'state' | 'progress';
  from: JobState | undefined;
  to: JobState;
  workerId: string;
  attempt: number;
  errorCode: string;
  errorMessage: string;
  progress: number;
  message: string;
}

/** What a submit gives; the store fills the rest. */
export interface NewJob {
  capability: string;
  range: string;
  input: JobPayload;
  priority: number;
  maxAttempts: number;
  timeoutMs: number;
  backoffMs: number;
  runAt: number;
  caller: string;
  idempotencyKey: string;
}

/** How {@link JobStore.list} orders jobs. */
export type JobOrder = 'created_desc' | 'created_asc' | 'priority_desc';

/** Filters of {@link JobStore.list}; every field optional. */
export interface JobFilter {
  states?: readonly JobState[];
  capability?: string;
  priorityMin?: number;
  priorityMax?: number;
  /** Created at or after (epoch ms). */
  from?: number;
  /** Created before (epoch ms). */
  to?: number;
  order?: JobOrder;
  /** At most this many (1 to 500). */
  limit?: number;
  /** From a previous page's `nextCursor`. */
  cursor?: string;
}

/** The end of an attempt, as the dispatcher writes it. */
export type AttemptOutcome =
  | { state: 'completed'; output: JobPayload }
  | { state: 'failed' | 'dead_letter' | 'cancelled'; error: JobError }
  | { state: 'pending'; error: JobError; runAt: number };

/** Counts and timings for `/v1/metrics/summary`. */
export interface JobSummary {
  byState: Record<JobState, number>;
  /** Jobs due now and waiting for a worker, by capability. */
  queueDepth: Record<string, number>;
  /** Of the jobs finished in the window: completed / (completed + failed + dead_letter). */
  successRate: number | undefined;
  /** Milliseconds from submit to first start, and from start to finish, over the window. */
  queueWaitMs: Percentiles;
  processingMs: Percentiles;
  windowMs: number;
}

export interface Percentiles {
  p50: number | undefined;
  p95: number | undefined;
  p99: number | undefined;
}

/**
 * Where jobs live. Every transition is written (with its history line) before it is acted on;
 * writes of an attempt's outcome carry its lease token, so a controller that lost a lease (it was
 * presumed dead and the job went back to pending) cannot overwrite the next attempt.
 */
export interface JobStore {
  /** `sqlite` or `postgres`. */
  readonly dialect: 'sqlite' | 'postgres';

  /**
   * Adds a job; with an idempotency key already used by the same caller, returns that job
   * instead (`created` false).
   */
  submit(job: NewJob, now: number): Promise<{ job: JobRecord; created: boolean }>;

  /**
   * Takes up to `limit` (default 1) of the most urgent due jobs among `capabilities` (highest
   * priority, then earliest due, then oldest) and leases each: `assigned`, attempts + 1, a lease
   * token of its own, lease until `now + timeoutMs + graceMs`. Several controllers may claim at
   * once; a job goes to one of them. Most urgent first; empty when nothing is due.
   */
  claim(capabilities: readonly string[], now: number, graceMs: number, limit?: number): Promise<JobRecord[]>;

  /** `assigned -> processing` on `workerId`; false when the lease is no longer held. */
  markProcessing(id: string, leaseToken: string, workerId: string, now: number): Promise<boolean>;

  /**
   * Writes the outcome of an attempt; false when the lease is no longer held (outcome dropped).
   * `dispatch`: the attempt reached that worker at that time and `markProcessing` was not written
   * (a short attempt): the `processing` line is written first, in the same transaction.
   */
  finish(
    id: string,
    leaseToken: string,
    outcome: AttemptOutcome,
    now: number,
    dispatch?: { workerId: string; at: number },
  ): Promise<boolean>;

  /** Records progress of a running attempt on `workerId`; false when it is not running there. */
  progress(id: string, workerId: string, fraction: number, message: string, now: number): Promise<boolean>;

  /**
   * Cancels: a pending job at once; a running one is marked, and the controller running it aborts
   * the call. Finished jobs are left as they are.
   * @returns the job after the request, or undefined when unknown
   */
  requestCancel(id: string, now: number): Promise<JobRecord | undefined>;

  /** Of `ids`, those with a cancel requested. */
  cancelRequested(ids: readonly string[]): Promise<string[]>;

  /**
   * Puts a failed or dead-lettered job back to pending for a new round of attempts.
   * @throws CrankError NOT_FOUND, FAILED_PRECONDITION (any other state)
   */
  retry(id: string, now: number): Promise<JobRecord>;

  get(id: string): Promise<JobRecord | undefined>;

  /** The jobs of `ids` that exist, by id (one query). */
  getMany(ids: readonly string[]): Promise<Map<string, JobRecord>>;

  /** The job's history, oldest first. */
  timeline(id: string): Promise<JobEventRecord[]>;

  /** One page of jobs; `nextCursor` when there are more. Stable under inserts (keyset paging). */
  list(filter: JobFilter): Promise<{ jobs: JobRecord[]; nextCursor: string | undefined }>;

  /** History lines after event `afterId`, oldest first, at most `limit`. */
  eventsAfter(afterId: number, limit: number): Promise<JobEventRecord[]>;

  /** The id of the newest history line (0 when none): where a new watcher starts. */
  lastEventId(): Promise<number>;

  /**
   * Jobs whose lease ended while running go back to pending (the attempt counted), or to
   * dead_letter when it was the last one: a job that keeps killing or hanging workers ends.
   * @returns how many were moved
   */
  requeueExpired(now: number): Promise<number>;

  /** Deletes at most `batch` jobs finished before `before`, with their history. */
  purgeFinished(before: number, batch: number): Promise<number>;

  summary(now: number, windowMs: number): Promise<JobSummary>;

  close(): Promise<void>;
}
