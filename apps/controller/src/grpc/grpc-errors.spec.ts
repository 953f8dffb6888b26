import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from '@jest/globals';
import { DEBUG_ECHO } from '@crank/capabilities';
import { DEADLINE_SLACK_MS, readWorkerFailure } from './grpc-errors.js';

/** What grpc-js reports for a call the controller cancelled itself (because its caller did). */
const cancelledHere = Object.assign(new Error('1 CANCELLED: Cancelled on client'), {
  code: status.CANCELLED,
  details: 'Cancelled on client',
  metadata: new Metadata(),
}) as ServiceError;

describe('readWorkerFailure when the caller went away', () => {
  const call = { capability: DEBUG_ECHO, workerId: 'echo-1', accepted: true, callerAborted: true };
  const now = 1_000_000;

  it('counts a caller cancelling at its deadline as the worker running out of time', () => {
    for (const deadlineMs of [now, now - 5_000, now + DEADLINE_SLACK_MS]) {
      expect(readWorkerFailure(cancelledHere, { ...call, deadlineMs }, now)).toMatchObject({
        error: { code: 'DEADLINE_EXCEEDED' },
        outcome: 'timeout',
        retryable: false,
      });
    }
  });

  it('counts a caller cancelling well before its deadline, or without one, as abandoned', () => {
    for (const deadlineMs of [now + DEADLINE_SLACK_MS + 1, now + 60_000, undefined]) {
      expect(readWorkerFailure(cancelledHere, { ...call, deadlineMs }, now)).toMatchObject({
        error: { code: 'CANCELLED' },
        outcome: 'abandoned',
        retryable: false,
      });
    }
  });
});
