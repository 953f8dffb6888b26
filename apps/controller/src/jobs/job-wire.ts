import { CrankError } from '@crank/capabilities';
import { ErrorInfo, Job, JobStatus, JobTransition, type JobOrder as WireJobOrder } from '@crank/proto';
import type { JobState } from './job-state.js';
import type { JobEventRecord, JobFilter, JobOrder, JobRecord } from './job-store.js';

const STATUS_OF: Readonly<Record<JobState, JobStatus>> = Object.freeze({
  pending: JobStatus.JOB_STATUS_PENDING,
  assigned: JobStatus.JOB_STATUS_ASSIGNED,
  processing: JobStatus.JOB_STATUS_PROCESSING,
  completed: JobStatus.JOB_STATUS_COMPLETED,
  failed: JobStatus.JOB_STATUS_FAILED,
  cancelled: JobStatus.JOB_STATUS_CANCELLED,
  dead_letter: JobStatus.JOB_STATUS_DEAD_LETTER,
});

/** The wire status of a job state. */
export function jobStatusOf(state: JobState): JobStatus {
  return STATUS_OF[state];
}

/**
 * The job state of a wire status.
 * @throws CrankError INVALID_INPUT for unspecified or unknown values
 */
export function jobStateOf(status: JobStatus): JobState {
  const found = (Object.keys(STATUS_OF) as JobState[]).find((state) => STATUS_OF[state] === status);
  if (!found) throw new CrankError('INVALID_INPUT', `statuses: ${status} is not a job status`);
  return found;
}

/** A job on the wire; `timeline` fills `history` (GetJob). */
export function jobToWire(job: JobRecord, timeline: readonly JobEventRecord[] = []): Job {
  return Job.fromPartial({
    id: job.id,
    capability: job.capability,
    // The store keeps the range asked for; the exact version of each attempt is not recorded.
    version: '',
    versionRange: job.range,
    status: jobStatusOf(job.state),
    priority: job.priority,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    timeoutMs: job.timeoutMs,
    backoffMs: job.backoffMs,
    input: job.input,
    ...(job.output ? { output: job.output } : {}),
    ...(job.error
      ? {
          error: ErrorInfo.fromPartial({
            code: job.error.code,
            message: job.error.message,
            detailsJson: job.error.details ? JSON.stringify(job.error.details) : '',
            retryable: job.error.retryable,
          }),
        }
      : {}),
    workerId: job.workerId,
    createdAtUnixMs: job.createdAt,
    updatedAtUnixMs: job.updatedAt,
    nextAttemptAtUnixMs: job.runAt,
    startedAtUnixMs: job.startedAt ?? 0,
    finishedAtUnixMs: job.finishedAt ?? 0,
    idempotencyKey: job.idempotencyKey,
    progress: job.progress,
    progressMessage: job.progressMessage,
    caller: job.caller,
    cancelRequested: job.cancelRequested,
    history: timeline.map(eventToWire),
  });
}

export function eventToWire(event: JobEventRecord): JobTransition {
  return JobTransition.fromPartial({
    eventId: event.id,
    atUnixMs: event.at,
    kind: event.kind,
    from: event.from ? jobStatusOf(event.from) : JobStatus.JOB_STATUS_UNSPECIFIED,
    to: jobStatusOf(event.to),
    workerId: event.workerId,
    attempt: event.attempt,
    errorCode: event.errorCode,
    errorMessage: event.errorMessage,
    progress: event.progress,
    message: event.message,
  });
}

/** The order of a listing, from the wire enum (1 created desc, 2 created asc, 3 priority desc). */
export function jobOrderOf(order: WireJobOrder | number): JobOrder {
  return order === 2 ? 'created_asc' : order === 3 ? 'priority_desc' : 'created_desc';
}

/** A listing's filter from the wire; zero values mean "no filter". */
export function jobFilterOf(request: {
  statuses: JobStatus[];
  capability: string;
  minPriority: number;
  maxPriority: number;
  createdAfterUnixMs: number;
  createdBeforeUnixMs: number;
  pageSize: number;
  pageToken: string;
  order: WireJobOrder;
}): JobFilter {
  return {
    ...(request.statuses.length > 0 ? { states: request.statuses.map(jobStateOf) } : {}),
    ...(request.capability ? { capability: request.capability } : {}),
    ...(request.minPriority ? { priorityMin: request.minPriority } : {}),
    ...(request.maxPriority ? { priorityMax: request.maxPriority } : {}),
    ...(request.createdAfterUnixMs ? { from: request.createdAfterUnixMs } : {}),
    ...(request.createdBeforeUnixMs ? { to: request.createdBeforeUnixMs } : {}),
    ...(request.pageSize ? { limit: request.pageSize } : {}),
    ...(request.pageToken ? { cursor: request.pageToken } : {}),
    order: jobOrderOf(request.order),
  };
}
