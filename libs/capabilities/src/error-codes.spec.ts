import { describe, expect, it } from '@jest/globals';
import { ERROR_CODES, ERROR_CODE_STATUS, grpcStatusOf, httpStatusOf, isErrorCode } from './error-codes.js';
import { GrpcStatus } from './grpc-status.js';

describe('ERROR_CODES', () => {
  it.each(ERROR_CODES)('%s maps to a gRPC status in 0..16 and an HTTP status in 400..599', (code) => {
    const grpc = grpcStatusOf(code);
    expect(Number.isInteger(grpc)).toBe(true);
    expect(grpc).toBeGreaterThanOrEqual(0);
    expect(grpc).toBeLessThanOrEqual(16);
    // OK is never an error status.
    expect(grpc).not.toBe(GrpcStatus.OK);
    expect(httpStatusOf(code)).toBeGreaterThanOrEqual(400);
    expect(httpStatusOf(code)).toBeLessThanOrEqual(599);
    expect(ERROR_CODE_STATUS[code].description).not.toBe('');
  });

  it('maps the codes callers rely on to the standard statuses', () => {
    expect([grpcStatusOf('INVALID_INPUT'), httpStatusOf('INVALID_INPUT')]).toEqual([3, 400]);
    expect([grpcStatusOf('UNSUPPORTED_FORMAT'), httpStatusOf('UNSUPPORTED_FORMAT')]).toEqual([3, 415]);
    expect([grpcStatusOf('NOT_FOUND'), httpStatusOf('NOT_FOUND')]).toEqual([5, 404]);
    expect([grpcStatusOf('CAPABILITY_MISMATCH'), httpStatusOf('CAPABILITY_MISMATCH')]).toEqual([9, 409]);
    expect([grpcStatusOf('INVALID_CAPABILITY'), httpStatusOf('INVALID_CAPABILITY')]).toEqual([3, 422]);
    expect([grpcStatusOf('RESOURCE_EXHAUSTED'), httpStatusOf('RESOURCE_EXHAUSTED')]).toEqual([8, 429]);
    expect([grpcStatusOf('UNAVAILABLE'), httpStatusOf('UNAVAILABLE')]).toEqual([14, 503]);
    expect([grpcStatusOf('DEADLINE_EXCEEDED'), httpStatusOf('DEADLINE_EXCEEDED')]).toEqual([4, 504]);
    expect([grpcStatusOf('CANCELLED'), httpStatusOf('CANCELLED')]).toEqual([1, 499]);
    expect([grpcStatusOf('CONTRACT_VIOLATION'), httpStatusOf('CONTRACT_VIOLATION')]).toEqual([13, 502]);
    expect([grpcStatusOf('UNAUTHENTICATED'), httpStatusOf('UNAUTHENTICATED')]).toEqual([16, 401]);
    expect([grpcStatusOf('PERMISSION_DENIED'), httpStatusOf('PERMISSION_DENIED')]).toEqual([7, 403]);
    expect([grpcStatusOf('INTERNAL'), httpStatusOf('INTERNAL')]).toEqual([13, 500]);
  });

  it('marks only the transient codes retryable', () => {
    const retryable = ERROR_CODES.filter((code) => ERROR_CODE_STATUS[code].retryable);
    expect(retryable.sort()).toEqual(['MODEL_NOT_READY', 'RESOURCE_EXHAUSTED', 'UNAVAILABLE']);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(ERROR_CODES)).toBe(true);
    expect(Object.isFrozen(ERROR_CODE_STATUS)).toBe(true);
    expect(Object.isFrozen(ERROR_CODE_STATUS.INTERNAL)).toBe(true);
  });
});

describe('GrpcStatus', () => {
  it('holds the 17 standard codes 0..16', () => {
    expect(Object.values(GrpcStatus).sort((a, b) => a - b)).toEqual([...Array(17).keys()]);
    expect(GrpcStatus.UNAUTHENTICATED).toBe(16);
    expect(GrpcStatus.FAILED_PRECONDITION).toBe(9);
  });
});

describe('isErrorCode', () => {
  it('accepts every code and refuses anything else', () => {
    for (const code of ERROR_CODES) expect(isErrorCode(code)).toBe(true);
    expect(isErrorCode('OOPS')).toBe(false);
    expect(isErrorCode('invalid_input')).toBe(false);
    expect(isErrorCode(3)).toBe(false);
    expect(isErrorCode(undefined)).toBe(false);
  });
});
