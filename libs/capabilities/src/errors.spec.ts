import { describe, expect, it } from '@jest/globals';
import { CODE_OF_GRPC_STATUS, ERROR_CODES } from './error-codes.js';
import {
  CapabilityError,
  CapabilityMismatchError,
  ContractViolationError,
  CrankError,
  crankErrorFrom,
  crankErrorFromStatus,
  InvalidCapabilityError,
  InvalidInputError,
  NotFoundError,
} from './errors.js';

const EXPECTED_CLASS = {
  INVALID_INPUT: InvalidInputError,
  CONTRACT_VIOLATION: ContractViolationError,
  INVALID_CAPABILITY: InvalidCapabilityError,
  CAPABILITY_MISMATCH: CapabilityMismatchError,
  NOT_FOUND: NotFoundError,
} as const;

describe('CrankError', () => {
  it('takes retryable, gRPC and HTTP status from the code', () => {
    const error = new CapabilityError('UNAVAILABLE', 'no worker for classify.email');
    expect(error).toBeInstanceOf(CrankError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('CapabilityError');
    expect(error.retryable).toBe(true);
    expect(error.grpcStatus).toBe(14);
    expect(error.httpStatus).toBe(503);
  });

  it('lets the thrower override retryable and keeps the cause off the wire', () => {
    const cause = new Error('socket closed');
    const error = new CapabilityError(
      'INTERNAL',
      'worker crashed',
      { workerId: 'w1' },
      { cause, retryable: true },
    );
    expect(error.retryable).toBe(true);
    expect(error.cause).toBe(cause);
    expect(error.toJSON()).toEqual({
      code: 'INTERNAL',
      message: 'worker crashed',
      details: { workerId: 'w1' },
    });
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      code: 'INTERNAL',
      message: 'worker crashed',
      details: { workerId: 'w1' },
    });
  });

  it('sends schema issues as details.errors', () => {
    const issue = { path: '/message', message: 'must be string', keyword: 'type' };
    const error = new InvalidInputError('input /message: must be string', [issue]);
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.errors).toEqual([issue]);
    expect(error.toJSON().details).toEqual({ errors: [issue] });
  });
});

describe('crankErrorFrom', () => {
  it.each(ERROR_CODES)('round-trips %s through its wire form', (code) => {
    const original = crankErrorFrom(code, `failed with ${code}`, { hint: 'x' });
    const wire = JSON.parse(JSON.stringify(original)) as {
      code: string;
      message: string;
      details: Record<string, unknown>;
    };
    const rebuilt = crankErrorFrom(wire.code, wire.message, wire.details);
    expect(rebuilt.code).toBe(code);
    expect(rebuilt.message).toBe(`failed with ${code}`);
    expect(rebuilt.details).toEqual(original.details);
    expect(rebuilt.constructor).toBe(original.constructor);
    const expected = (EXPECTED_CLASS as Record<string, unknown>)[code] ?? CapabilityError;
    expect(rebuilt).toBeInstanceOf(expected as typeof CrankError);
  });

  it('rebuilds the issues of structured errors', () => {
    const issue = { path: '/to', message: 'is required', keyword: 'required' };
    const rebuilt = crankErrorFrom('INVALID_INPUT', 'input /to: is required', { errors: [issue] });
    expect(rebuilt).toBeInstanceOf(InvalidInputError);
    expect((rebuilt as InvalidInputError).errors).toEqual([issue]);

    const mismatch = crankErrorFrom('CAPABILITY_MISMATCH', 'x', {
      contradictions: ['streaming: declared "none"'],
    });
    expect((mismatch as CapabilityMismatchError).contradictions).toEqual(['streaming: declared "none"']);
  });

  it('turns an unknown code into INTERNAL and keeps the original code', () => {
    const rebuilt = crankErrorFrom('TEAPOT', 'short and stout');
    expect(rebuilt).toBeInstanceOf(CapabilityError);
    expect(rebuilt.code).toBe('INTERNAL');
    expect(rebuilt.message).toBe('short and stout');
    expect(rebuilt.details).toEqual({ originalCode: 'TEAPOT' });
  });

  it('ignores details that are not an object and keeps the sender retryable flag', () => {
    const rebuilt = crankErrorFrom(
      'INVALID_INPUT',
      'bad',
      ['not', 'a', 'record'] as unknown as Record<string, unknown>,
      {
        retryable: true,
      },
    );
    expect((rebuilt as InvalidInputError).errors).toEqual([]);
    expect(rebuilt.retryable).toBe(true);
  });
});

describe('crankErrorFromStatus', () => {
  it('keeps the contract error a trailer carries', () => {
    const error = crankErrorFromStatus(3, 'ignored', {
      code: 'UNSUPPORTED_FORMAT',
      message: 'from: "docx" is not supported',
      details: { from: 'docx' },
      retryable: false,
    });
    expect(error.code).toBe('UNSUPPORTED_FORMAT');
    expect(error.message).toBe('from: "docx" is not supported');
    expect(error.details).toEqual({ from: 'docx' });
  });

  it('reads every bare gRPC status through the one table', () => {
    for (let status = 0; status <= 16; status++) {
      const error = crankErrorFromStatus(status, 'x', undefined);
      expect(error.code).toBe(CODE_OF_GRPC_STATUS[status as keyof typeof CODE_OF_GRPC_STATUS]);
    }
    expect(crankErrorFromStatus(3, 'bad', undefined).code).toBe('INVALID_INPUT');
  });

  it('keeps grpc internals out of deadline messages', () => {
    const error = crankErrorFromStatus(
      4,
      'Deadline exceeded after 1.002s,metadata filters: 0.001s,remote_addr=127.0.0.1:8443',
      undefined,
    );
    expect(error.message).toBe('the deadline passed before the call completed');
    const unavailable = crankErrorFromStatus(
      14,
      'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1 (2026-11-28T10:00:00.000Z)',
      undefined,
    );
    expect(unavailable.message).toBe(
      'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1',
    );
  });

  it('reads an oversized message as PAYLOAD_TOO_LARGE, which is not retried', () => {
    const error = crankErrorFromStatus(
      8,
      'Received message larger than max (70000000 vs. 67108864)',
      undefined,
    );
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(error.retryable).toBe(false);
  });

  it('gives every code the same details shape: an object', () => {
    for (const code of ERROR_CODES) {
      expect(new CrankError(code, 'm').toJSON().details).toEqual({});
    }
  });
});
