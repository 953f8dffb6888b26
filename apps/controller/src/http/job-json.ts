import { isJson, parseJson } from '../invoke/payloads.js';
import type { JobState } from '../jobs/job-state.js';
import type { JobEventRecord, JobPayload, JobRecord } from '../jobs/job-store.js';

/** A payload that is not JSON (or does not parse as JSON): its bytes in base64. */
export interface BytesJson {
  contentType: string;
  bytes: number;
  base64: string;
}

/** A job's error in the HTTP API: the shape of every HTTP error body, plus whether a retry may help. */
export interface JobErrorJson {
  code: string;
  message: string;
  details: Record<string, unknown>;
  retryable: boolean;
}

/** One line of a job's history in the HTTP API (and the `event` of each SSE frame). */
export interface JobEventJson {
  /** Orders events across all jobs; resume a watch after it. */
  id: number;
  kind: 'state' | 'progress';
  /** null on the first line (the submit). */
  from: JobState | null;
  to: JobState;
  at: string;
  attempt: number;
  workerId: string;
  errorCode: string;
  errorMessage: string;
  progress: number;
  message: string;
}

/**
 * A job in the HTTP API. Times are ISO 8601 strings (null when not yet reached); strings the job
 * has not set are empty, as on gRPC. `input` and `output` are the parsed JSON when their media
 * type is JSON, else {@link BytesJson}.
 */
export interface JobJson {
  id: string;
  capability: string;
  /** Semver range asked at submit; empty for any version. */
  versionRange: string;
  state: JobState;
  priority: number;
  attempts: number;
  maxAttempts: number;
  timeoutMs: number;
  backoffMs: number;
  /** When the job is due: its delayed start, or its next attempt after a retryable failure. */
  runAt: string;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  progress: number;
  progressMessage: string;
  workerId: string;
  caller: string;
  idempotencyKey: string;
  cancelRequested: boolean;
  input: unknown;
  output: unknown;
  error: JobErrorJson | null;
  /** Only on `GET /v1/jobs/:id`: the job's history, oldest first. */
  timeline?: JobEventJson[];
}

/** The job as the HTTP API shows it; with `timeline`, its history too (`GET /v1/jobs/:id`). */
export function jobJson(job: JobRecord, timeline?: readonly JobEventRecord[]): JobJson {
  return {
    id: job.id,
    capability: job.capability,
    versionRange: job.range,
    state: job.state,
    priority: job.priority,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    timeoutMs: job.timeoutMs,
    backoffMs: job.backoffMs,
    runAt: iso(job.runAt),
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
    startedAt: job.startedAt === undefined ? null : iso(job.startedAt),
    finishedAt: job.finishedAt === undefined ? null : iso(job.finishedAt),
    progress: job.progress,
    progressMessage: job.progressMessage,
    workerId: job.workerId,
    caller: job.caller,
    idempotencyKey: job.idempotencyKey,
    cancelRequested: job.cancelRequested,
    input: payloadJson(job.input),
    output: job.output ? payloadJson(job.output) : null,
    error: job.error
      ? {
          code: job.error.code,
          message: job.error.message,
          details: job.error.details ?? {},
          retryable: job.error.retryable,
        }
      : null,
    ...(timeline ? { timeline: timeline.map(jobEventJson) } : {}),
  };
}

/** One history line as the HTTP API shows it. */
export function jobEventJson(event: JobEventRecord): JobEventJson {
  return {
    id: event.id,
    kind: event.kind,
    from: event.from ?? null,
    to: event.to,
    at: iso(event.at),
    attempt: event.attempt,
    workerId: event.workerId,
    errorCode: event.errorCode,
    errorMessage: event.errorMessage,
    progress: event.progress,
    message: event.message,
  };
}

/**
 * A payload as JSON: the value itself when the media type is JSON, else (or when the bytes are
 * not valid JSON after all, which no check lets through but a store may hold) its bytes in base64.
 */
export function payloadJson(payload: JobPayload): unknown {
  if (isJson(payload.contentType) && payload.data.byteLength > 0) {
    try {
      return parseJson(payload.data, 'payload');
    } catch {
      // shown as bytes below
    }
  }
  return {
    contentType: payload.contentType,
    bytes: payload.data.byteLength,
    base64: Buffer.from(payload.data.buffer, payload.data.byteOffset, payload.data.byteLength).toString(
      'base64',
    ),
  } satisfies BytesJson;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
