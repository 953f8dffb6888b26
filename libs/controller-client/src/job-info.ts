import { CrankError, crankErrorFrom } from '@crank/capabilities';
import {
  JobStatus,
  parseDetailsJson,
  type ErrorInfo,
  type Job,
  type JobEvent,
  type JobTransition,
} from '@crank/proto';
import { fromPayload } from './payload.js';

/**
 * Where a job is in its lifecycle: `pending -> assigned -> processing -> completed | failed |
 * cancelled`, and `dead_letter` once its last attempt failed.
 */
export type JobState =
  'pending' | 'assigned' | 'processing' | 'completed' | 'failed' | 'cancelled' | 'dead_letter';

/** Every job state, in lifecycle order. */
export const JOB_STATES: readonly JobState[] = Object.freeze([
  'pending',
  'assigned',
  'processing',
  'completed',
  'failed',
  'cancelled',
  'dead_letter',
]);

const TERMINAL: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled', 'dead_letter']);

/** Whether a job in `state` has ended: completed, failed, cancelled or dead_letter. */
export function isTerminalJobState(state: JobState): boolean {
  return TERMINAL.has(state);
}

/** What a job event reports: a change of state, or a progress report of the running attempt. */
export type JobEventKind = 'state' | 'progress';

/** One line of a job's history, as `jobs.get` returns it. */
export interface JobTransitionInfo {
  /** Orders events across every job; `watch({ afterEventId })` resumes after it. */
  eventId: number;
  at: Date;
  kind: JobEventKind;
  /** The state before a `state` event; undefined for the event that created the job. */
  from: JobState | undefined;
  /** The state after a `state` event (the job's state at a `progress` event). */
  to: JobState | undefined;
  /** The worker of the attempt, '' when none. */
  workerId: string;
  /** The attempt the event belongs to (1 for the first), 0 before the first. */
  attempt: number;
  /** Why the attempt failed, for a transition to `pending` (retry), `failed` or `dead_letter`. */
  error: { code: string; message: string } | undefined;
  /** 0 to 1, for a `progress` event. */
  progress: number;
  /** The handler's progress message, or the controller's note on a state change. */
  message: string;
}

/**
 * A job as the controller last saw it, as a plain object.
 *
 * @typeParam O - the output type, for a job submitted with a `Capability` object
 */
export interface JobInfo<O = unknown> {
  id: string;
  capability: string;
  /** The semver range the job asked for. */
  versionRange: string;
  /** The exact version of the attempt that ran it, '' before one was assigned. */
  version: string;
  state: JobState;
  /** 0 (lowest) to 10 (highest). */
  priority: number;
  /** Attempts started so far. */
  attempts: number;
  maxAttempts: number;
  /** Limit of each attempt. */
  timeoutMs: number;
  /** Delay before the first retry; doubles on each further one. */
  backoffMs: number;
  /** 0 to 1, as the handler last reported it. */
  progress: number;
  progressMessage: string;
  /** The parsed JSON output, or a Buffer for a non-JSON output; undefined until completed. */
  output: O | undefined;
  /** Content type of `output`, '' when there is none. */
  outputContentType: string;
  /** Why the job failed (its last attempt's error), rebuilt as the typed error class. */
  error: CrankError | undefined;
  /** The worker of the current or last attempt, '' when none. */
  workerId: string;
  /** The identity that submitted the job. */
  caller: string;
  /** '' when the job was submitted without one. */
  idempotencyKey: string;
  /** True once `cancel` was asked while an attempt runs; the job ends `cancelled` shortly. */
  cancelRequested: boolean;
  createdAt: Date | undefined;
  updatedAt: Date | undefined;
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  /** When the job is due: its delayed start, or its next attempt after a retryable failure. */
  runAt: Date | undefined;
  /** Every transition and progress report, oldest first: filled by `jobs.get` only. */
  history: JobTransitionInfo[];
}

/** One event of `jobs.watch`: a job changed state or reported progress. */
export interface JobEventInfo<O = unknown> {
  /** Orders events; `watch({ afterEventId })` resumes after it. */
  eventId: number;
  kind: JobEventKind;
  at: Date;
  /** The job after the event. */
  job: JobInfo<O>;
  /** The state before a `state` event; undefined for a new job. */
  previousState: JobState | undefined;
}

const STATE_OF_STATUS: ReadonlyMap<JobStatus, JobState> = new Map([
  [JobStatus.JOB_STATUS_PENDING, 'pending'],
  [JobStatus.JOB_STATUS_ASSIGNED, 'assigned'],
  [JobStatus.JOB_STATUS_PROCESSING, 'processing'],
  [JobStatus.JOB_STATUS_COMPLETED, 'completed'],
  [JobStatus.JOB_STATUS_FAILED, 'failed'],
  [JobStatus.JOB_STATUS_CANCELLED, 'cancelled'],
  [JobStatus.JOB_STATUS_DEAD_LETTER, 'dead_letter'],
]);

const STATUS_OF_STATE: ReadonlyMap<JobState, JobStatus> = new Map(
  [...STATE_OF_STATUS].map(([status, state]) => [state, status]),
);

/** The wire status of a state. */
export function jobStatusOf(state: JobState): JobStatus {
  return STATUS_OF_STATE.get(state) ?? JobStatus.JOB_STATUS_UNSPECIFIED;
}

/** The state of a wire status; undefined for UNSPECIFIED or a status this client does not know. */
export function jobStateOf(status: JobStatus): JobState | undefined {
  return STATE_OF_STATUS.get(status);
}

/**
 * A wire job as a {@link JobInfo}.
 *
 * @throws CrankError INTERNAL when the controller sends a job without a known status
 */
export function jobInfoFromWire<O>(job: Job): JobInfo<O> {
  const state = jobStateOf(job.status);
  if (state === undefined)
    throw new CrankError('INTERNAL', `job ${job.id}: status ${job.status} is not a known job state`);
  return {
    id: job.id,
    capability: job.capability,
    versionRange: job.versionRange,
    version: job.version,
    state,
    priority: job.priority,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    timeoutMs: job.timeoutMs,
    backoffMs: job.backoffMs,
    progress: job.progress,
    progressMessage: job.progressMessage,
    output: job.output ? (fromPayload(job.output) as O) : undefined,
    outputContentType: job.output?.contentType ?? '',
    error: errorOf(job.error),
    workerId: job.workerId,
    caller: job.caller,
    idempotencyKey: job.idempotencyKey,
    cancelRequested: job.cancelRequested,
    createdAt: dateOf(job.createdAtUnixMs),
    updatedAt: dateOf(job.updatedAtUnixMs),
    startedAt: dateOf(job.startedAtUnixMs),
    finishedAt: dateOf(job.finishedAtUnixMs),
    runAt: dateOf(job.nextAttemptAtUnixMs),
    history: job.history.map(transitionOf),
  };
}

/**
 * A wire event as a {@link JobEventInfo}.
 *
 * @throws CrankError INTERNAL when the event carries no job, or one without a known status
 */
export function jobEventFromWire<O>(event: JobEvent): JobEventInfo<O> {
  if (!event.job) throw new CrankError('INTERNAL', `job event ${event.eventId}: carries no job`);
  return {
    eventId: event.eventId,
    kind: kindOf(event.kind),
    at: new Date(event.atUnixMs),
    job: jobInfoFromWire<O>(event.job),
    previousState: jobStateOf(event.previousStatus),
  };
}

/** The id of the newest event in a job's history, 0 when it has none. */
export function lastEventId(job: Pick<JobInfo, 'history'>): number {
  return job.history.reduce((last, t) => Math.max(last, t.eventId), 0);
}

function transitionOf(t: JobTransition): JobTransitionInfo {
  return {
    eventId: t.eventId,
    at: new Date(t.atUnixMs),
    kind: kindOf(t.kind),
    from: jobStateOf(t.from),
    to: jobStateOf(t.to),
    workerId: t.workerId,
    attempt: t.attempt,
    error: t.errorCode ? { code: t.errorCode, message: t.errorMessage } : undefined,
    progress: t.progress,
    message: t.message,
  };
}

function errorOf(info: ErrorInfo | undefined): CrankError | undefined {
  if (!info?.code) return undefined;
  return crankErrorFrom(info.code, info.message, parseDetailsJson(info.detailsJson), {
    retryable: info.retryable,
  });
}

function kindOf(kind: string): JobEventKind {
  return kind === 'progress' ? 'progress' : 'state';
}

/** Unix ms as a Date; 0 (unset) as undefined. */
function dateOf(unixMs: number): Date | undefined {
  return unixMs > 0 ? new Date(unixMs) : undefined;
}
