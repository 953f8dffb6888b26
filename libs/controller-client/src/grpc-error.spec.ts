import { describe, expect, it } from '@jest/globals';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  CapabilityError,
  CrankError,
  InvalidInputError,
  NotFoundError,
  type ErrorCode,
} from '@crank/capabilities';
import { ErrorInfo, errorInfoToMetadata } from '@crank/proto';
import { errorFromServiceError } from './grpc-error.js';

function serviceError(code: status, details: string, metadata = new Metadata()): ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata });
}

function withTrailer(code: status, info: Partial<ErrorInfo>): ServiceError {
  return serviceError(code, info.message ?? '', errorInfoToMetadata(ErrorInfo.fromPartial(info)));
}

describe('errorFromServiceError', () => {
  describe('with a crank-error-bin trailer', () => {
    it('rebuilds InvalidInputError with its schema issues', () => {
      const errors = [{ path: '/message', rule: 'type', message: 'must be string' }];
      const error = errorFromServiceError(
        withTrailer(status.INVALID_ARGUMENT, {
          code: 'INVALID_INPUT',
          message: 'invalid input for debug.echo@1.0.0: input /message: must be string',
          detailsJson: JSON.stringify({ capability: 'debug.echo@1.0.0', errors }),
        }),
      );

      expect(error).toBeInstanceOf(InvalidInputError);
      expect(error).toMatchObject({
        code: 'INVALID_INPUT',
        message: 'invalid input for debug.echo@1.0.0: input /message: must be string',
        details: { capability: 'debug.echo@1.0.0', errors },
      });
      expect((error as InvalidInputError).errors).toEqual(errors);
    });

    it('keeps what the sender said about retrying, and the transport error as cause', () => {
      const sent = withTrailer(status.INTERNAL, { code: 'INTERNAL', message: 'flaky', retryable: true });
      const error = errorFromServiceError(sent);
      expect(error).toMatchObject({ code: 'INTERNAL', retryable: true });
      expect(error.cause).toBe(sent);
      expect(
        errorFromServiceError(
          withTrailer(status.UNAVAILABLE, { code: 'UNAVAILABLE', message: 'x', retryable: false }),
        ),
      ).toMatchObject({ code: 'UNAVAILABLE', retryable: false });
    });

    it('rebuilds NotFoundError', () => {
      const error = errorFromServiceError(
        withTrailer(status.NOT_FOUND, {
          code: 'NOT_FOUND',
          message: 'capability "x.y" is not offered by any worker',
          detailsJson: '{"capability":"x.y"}',
        }),
      );
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error).toMatchObject({ code: 'NOT_FOUND', details: { capability: 'x.y' } });
    });

    it('takes the contract code over the gRPC status', () => {
      const error = errorFromServiceError(
        withTrailer(status.INVALID_ARGUMENT, {
          code: 'UNSUPPORTED_FORMAT',
          message: 'from: "docx" is not supported',
        }),
      );
      expect(error).toBeInstanceOf(CapabilityError);
      expect(error).toMatchObject({ code: 'UNSUPPORTED_FORMAT', message: 'from: "docx" is not supported' });
      expect(error.details).toBeUndefined();
    });

    it('turns an unknown contract code into INTERNAL, keeping the original code', () => {
      const error = errorFromServiceError(
        withTrailer(status.UNKNOWN, { code: 'FROM_THE_FUTURE', message: 'new' }),
      );
      expect(error).toBeInstanceOf(CrankError);
      expect(error).toMatchObject({
        code: 'INTERNAL',
        message: 'new',
        details: { originalCode: 'FROM_THE_FUTURE' },
      });
    });
  });

  describe('without a trailer', () => {
    it.each<[status, ErrorCode]>([
      [status.UNAVAILABLE, 'UNAVAILABLE'],
      [status.DEADLINE_EXCEEDED, 'DEADLINE_EXCEEDED'],
      [status.CANCELLED, 'CANCELLED'],
      [status.INVALID_ARGUMENT, 'INVALID_INPUT'],
      [status.NOT_FOUND, 'NOT_FOUND'],
      [status.RESOURCE_EXHAUSTED, 'RESOURCE_EXHAUSTED'],
      [status.PERMISSION_DENIED, 'PERMISSION_DENIED'],
      [status.UNAUTHENTICATED, 'UNAUTHENTICATED'],
      [status.FAILED_PRECONDITION, 'FAILED_PRECONDITION'],
      [status.ALREADY_EXISTS, 'ALREADY_EXISTS'],
      [status.INTERNAL, 'INTERNAL'],
      [status.UNIMPLEMENTED, 'FAILED_PRECONDITION'],
      [status.UNKNOWN, 'INTERNAL'],
    ])('maps gRPC status %d to %s', (code, expected) => {
      const transport = serviceError(code, 'No connection established');
      const error = errorFromServiceError(transport);
      expect(error).toBeInstanceOf(CrankError);
      expect(error.code).toBe(expected);
      expect(error.cause).toBe(transport);
    });

    it('keeps the transport text, without grpc internals, except for deadlines and cancels', () => {
      expect(
        errorFromServiceError(serviceError(status.UNAVAILABLE, 'No connection established')).message,
      ).toBe('No connection established');
      expect(
        errorFromServiceError(
          serviceError(status.DEADLINE_EXCEEDED, 'Deadline exceeded after 1.0s,remote_addr=1.2.3.4:5'),
        ).message,
      ).toBe('the deadline passed before the call completed');
    });

    it('marks transport failures that may pass on a retry as retryable', () => {
      expect(errorFromServiceError(serviceError(status.UNAVAILABLE, 'down')).retryable).toBe(true);
      expect(errorFromServiceError(serviceError(status.INVALID_ARGUMENT, 'bad')).retryable).toBe(false);
    });

    it('says the server gave no details when it gave none', () => {
      const error = errorFromServiceError(serviceError(status.UNAVAILABLE, ''));
      expect(error.message).toBe('the server answered UNAVAILABLE without details');
    });

    it('ignores a trailer it cannot decode', () => {
      const metadata = new Metadata();
      metadata.set('crank-error-bin', Buffer.from([0xff, 0xff, 0xff]));
      const error = errorFromServiceError(serviceError(status.UNAVAILABLE, 'connection reset', metadata));
      expect(error).toMatchObject({ code: 'UNAVAILABLE', message: 'connection reset' });
    });
  });
});
