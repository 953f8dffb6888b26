import { describe, expect, it } from '@jest/globals';
import type { JobEventRecord, JobRecord } from '../jobs/job-store.js';
import { jobJson, payloadJson } from './job-json.js';

const T0 = Date.parse('2026-05-01T12:00:00.000Z');

function record(overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    id: '01900000-0000-7000-8000-000000000001',
    capability: 'debug.echo',
    range: '^1.0.0',
    state: 'pending',
    priority: 5,
    attempts: 0,
    maxAttempts: 3,
    timeoutMs: 300_000,
    backoffMs: 1_000,
    runAt: T0,
    input: { contentType: 'application/json', data: Buffer.from('{"message":"hi"}') },
    output: undefined,
    error: undefined,
    progress: 0,
    progressMessage: '',
    workerId: '',
    caller: 'http',
    idempotencyKey: '',
    cancelRequested: false,
    leaseToken: 'secret-token',
    leaseExpiresAt: 0,
    createdAt: T0,
    updatedAt: T0,
    startedAt: undefined,
    finishedAt: undefined,
    ...overrides,
  };
}

const submitted: JobEventRecord = {
  id: 41,
  jobId: '01900000-0000-7000-8000-000000000001',
  at: T0,
  kind: 'state',
  from: undefined,
  to: 'pending',
  workerId: '',
  attempt: 0,
  errorCode: '',
  errorMessage: '',
  progress: 0,
  message: '',
};

describe('jobJson', () => {
  it('shows a pending job with ISO times, null for what has not happened, and parsed JSON input', () => {
    expect(jobJson(record())).toEqual({
      id: '01900000-0000-7000-8000-000000000001',
      capability: 'debug.echo',
      versionRange: '^1.0.0',
      state: 'pending',
      priority: 5,
      attempts: 0,
      maxAttempts: 3,
      timeoutMs: 300_000,
      backoffMs: 1_000,
      runAt: '2026-05-01T12:00:00.000Z',
      createdAt: '2026-05-01T12:00:00.000Z',
      updatedAt: '2026-05-01T12:00:00.000Z',
      startedAt: null,
      finishedAt: null,
      progress: 0,
      progressMessage: '',
      workerId: '',
      caller: 'http',
      idempotencyKey: '',
      cancelRequested: false,
      input: { message: 'hi' },
      output: null,
      error: null,
    });
  });

  it('never shows the lease token', () => {
    expect(JSON.stringify(jobJson(record()))).not.toContain('secret-token');
  });

  it('shows a finished job with its output, times and error', () => {
    const json = jobJson(
      record({
        state: 'dead_letter',
        attempts: 3,
        startedAt: T0 + 1_000,
        finishedAt: T0 + 2_500,
        workerId: 'echo-1',
        output: { contentType: 'application/vnd.crank+json', data: Buffer.from('[1,2]') },
        error: { code: 'UNAVAILABLE', message: 'no worker', retryable: true },
      }),
    );
    expect(json).toMatchObject({
      state: 'dead_letter',
      attempts: 3,
      startedAt: '2026-05-01T12:00:01.000Z',
      finishedAt: '2026-05-01T12:00:02.500Z',
      workerId: 'echo-1',
      output: [1, 2],
      error: { code: 'UNAVAILABLE', message: 'no worker', details: {}, retryable: true },
    });
  });

  it('adds the timeline only when given, each line with an ISO time and null for no previous state', () => {
    expect(jobJson(record())).not.toHaveProperty('timeline');
    const cancelled: JobEventRecord = { ...submitted, id: 42, at: T0 + 5, from: 'pending', to: 'cancelled' };
    expect(jobJson(record(), [submitted, cancelled]).timeline).toEqual([
      {
        id: 41,
        kind: 'state',
        from: null,
        to: 'pending',
        at: '2026-05-01T12:00:00.000Z',
        attempt: 0,
        workerId: '',
        errorCode: '',
        errorMessage: '',
        progress: 0,
        message: '',
      },
      expect.objectContaining({ id: 42, from: 'pending', to: 'cancelled', at: '2026-05-01T12:00:00.005Z' }),
    ]);
  });
});

describe('payloadJson', () => {
  it('shows bytes of other media types in base64 with their size', () => {
    expect(payloadJson({ contentType: 'image/png', data: Buffer.from([0x89, 0x50, 0x4e, 0x47]) })).toEqual({
      contentType: 'image/png',
      bytes: 4,
      base64: 'iVBORw==',
    });
  });

  it('falls back to bytes for JSON that is empty or does not parse', () => {
    expect(payloadJson({ contentType: 'application/json', data: Buffer.alloc(0) })).toEqual({
      contentType: 'application/json',
      bytes: 0,
      base64: '',
    });
    expect(payloadJson({ contentType: 'application/json', data: Buffer.from('{oops') })).toMatchObject({
      bytes: 5,
      base64: Buffer.from('{oops').toString('base64'),
    });
  });

  it('reads only the payload bytes of a buffer that is a slice of a larger one', () => {
    const pool = Buffer.from('xx{"a":1}yy');
    expect(payloadJson({ contentType: 'application/json', data: pool.subarray(2, 9) })).toEqual({ a: 1 });
    expect(payloadJson({ contentType: 'text/plain', data: pool.subarray(2, 9) })).toMatchObject({
      base64: Buffer.from('{"a":1}').toString('base64'),
    });
  });
});
