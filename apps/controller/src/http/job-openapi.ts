import type { SchemaObject } from '@nestjs/swagger';
import { JOB_STATES } from '../jobs/job-state.js';

/**
 * OpenAPI schemas of the job routes' bodies, for `/docs`. They describe what `job-json.ts` and
 * `job-request.ts` produce and take; the specs of those files hold the behaviour.
 */

const time = (description: string, nullable = false): SchemaObject => ({
  type: 'string',
  format: 'date-time',
  description,
  ...(nullable ? { nullable: true } : {}),
});

const state: SchemaObject = { type: 'string', enum: [...JOB_STATES] };

const payload: SchemaObject = {
  description:
    'The JSON value when the media type is JSON; else { contentType, bytes, base64 } (null output until completed)',
  nullable: true,
};

/** One line of a job's history; also the `event` of each SSE frame. */
export const JOB_EVENT_SCHEMA: SchemaObject = {
  type: 'object',
  properties: {
    id: { type: 'integer', description: 'orders events; resume a watch after it' },
    kind: { type: 'string', enum: ['state', 'progress'] },
    from: { ...state, nullable: true },
    to: state,
    at: time('when it happened'),
    attempt: { type: 'integer' },
    workerId: { type: 'string' },
    errorCode: { type: 'string' },
    errorMessage: { type: 'string' },
    progress: { type: 'number', minimum: 0, maximum: 1 },
    message: { type: 'string' },
  },
};

/** A job as every job route answers it. */
export const JOB_SCHEMA: SchemaObject = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    capability: { type: 'string', example: 'debug.echo' },
    versionRange: { type: 'string', description: 'semver range asked at submit; empty for any' },
    state,
    priority: { type: 'integer', minimum: 0, maximum: 10 },
    attempts: { type: 'integer' },
    maxAttempts: { type: 'integer' },
    timeoutMs: { type: 'integer' },
    backoffMs: { type: 'integer' },
    runAt: time('when the job is due (its delayed start, or its next attempt)'),
    createdAt: time('submitted'),
    updatedAt: time('last written'),
    startedAt: time('first attempt started', true),
    finishedAt: time('ended', true),
    progress: { type: 'number', minimum: 0, maximum: 1 },
    progressMessage: { type: 'string' },
    workerId: { type: 'string', description: 'worker of the current or last attempt' },
    caller: { type: 'string', description: '"http" for jobs submitted over HTTP' },
    idempotencyKey: { type: 'string' },
    cancelRequested: { type: 'boolean' },
    input: payload,
    output: payload,
    error: {
      type: 'object',
      nullable: true,
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: { type: 'object' },
        retryable: { type: 'boolean' },
      },
    },
    timeline: { type: 'array', items: JOB_EVENT_SCHEMA, description: 'GET /v1/jobs/{id} only' },
  },
};

/** The JSON body of `POST /v1/jobs`. */
export const SUBMIT_JOB_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['capability', 'input'],
  properties: {
    capability: { type: 'string', example: 'debug.echo' },
    version: { type: 'string', description: 'semver range, e.g. ^1.0.0', example: '^1.0.0' },
    input: { description: 'any JSON value the capability takes', example: { message: 'hi' } },
    priority: { type: 'integer', minimum: 0, maximum: 10, default: 5 },
    maxAttempts: { type: 'integer', minimum: 1, maximum: 100, default: 3 },
    timeoutMs: { type: 'integer', minimum: 1, default: 300_000, description: 'deadline of one attempt' },
    backoffMs: {
      type: 'integer',
      minimum: 1,
      default: 1_000,
      description: 'first retry delay, doubled each time',
    },
    runAt: {
      oneOf: [
        { type: 'string', format: 'date-time' },
        { type: 'integer', description: 'epoch milliseconds' },
      ],
      description: 'not before (at most a year ahead)',
    },
    idempotencyKey: {
      type: 'string',
      maxLength: 128,
      description: 'a second submit with the same key answers the first job (200)',
    },
  },
};

/** The body of `GET /v1/jobs`. */
export const JOB_PAGE_SCHEMA: SchemaObject = {
  type: 'object',
  properties: {
    jobs: { type: 'array', items: JOB_SCHEMA },
    nextCursor: {
      type: 'string',
      nullable: true,
      description: 'pass as ?cursor= (with the same sort) for the next page; null on the last',
    },
  },
};

const percentiles: SchemaObject = {
  type: 'object',
  properties: {
    p50: { type: 'number', nullable: true },
    p95: { type: 'number', nullable: true },
    p99: { type: 'number', nullable: true },
  },
};

/** The body of `GET /v1/metrics/summary`. */
export const METRICS_SUMMARY_SCHEMA: SchemaObject = {
  type: 'object',
  properties: {
    at: time('when it was computed'),
    windowMs: { type: 'integer' },
    byState: { type: 'object', additionalProperties: { type: 'integer' } },
    successRate: { type: 'number', nullable: true },
    queueWaitMs: percentiles,
    processingMs: percentiles,
    queueDepth: { type: 'object', additionalProperties: { type: 'integer' } },
    load: {
      type: 'object',
      properties: {
        workers: { type: 'integer' },
        inFlight: { type: 'integer' },
        slots: { type: 'integer' },
        utilization: { type: 'number', nullable: true },
        byCapability: { type: 'object' },
      },
    },
  },
};

/** The body of every error answer. */
export const ERROR_SCHEMA: SchemaObject = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string', example: 'INVALID_INPUT' },
        message: { type: 'string' },
        details: { type: 'object' },
      },
    },
  },
};
