import { describe, expect, it } from '@jest/globals';
import { Metadata } from '@grpc/grpc-js';
import {
  ERROR_METADATA_KEY,
  contractErrorStatus,
  errorInfoFromMetadata,
  errorInfoToMetadata,
  wireErrorInfo,
} from './error-metadata.js';
import { ErrorInfo } from './generated/crank/v1/common.js';

describe('error metadata', () => {
  it('round-trips the contract error through binary trailing metadata', () => {
    const info = ErrorInfo.fromPartial({
      code: 'INVALID_INPUT',
      message: '/name must be string',
      retryable: false,
    });
    const metadata = errorInfoToMetadata(info);
    expect(metadata.get(ERROR_METADATA_KEY)[0]).toBeInstanceOf(Buffer);
    expect(errorInfoFromMetadata(metadata)).toEqual(info);
  });

  it('answers undefined when the key is missing or holds garbage', () => {
    expect(errorInfoFromMetadata(new Metadata())).toBeUndefined();
    expect(errorInfoFromMetadata(undefined)).toBeUndefined();
    const garbage = new Metadata();
    garbage.set(ERROR_METADATA_KEY, Buffer.from([0xff, 0xff, 0xff]));
    expect(errorInfoFromMetadata(garbage)).toBeUndefined();
  });
});

describe('contractErrorStatus', () => {
  it('cuts a huge message and details so the trailer fits any HTTP/2 peer', () => {
    const status = contractErrorStatus({
      code: 'NOT_FOUND',
      message: `capability "${'x'.repeat(50_000)}" is not offered`,
      details: { capability: 'y'.repeat(50_000) },
      retryable: false,
      grpcStatus: 5,
    });
    const info = wireErrorInfo(status.metadata);
    expect(status.details.length).toBeLessThan(1_100);
    expect(info?.message.length).toBeLessThan(1_100);
    expect(info?.details).toEqual({ truncated: true });
    expect(info?.code).toBe('NOT_FOUND');
  });
});
