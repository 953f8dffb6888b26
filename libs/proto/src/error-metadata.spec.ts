import { describe, expect, it } from '@jest/globals';
import { Metadata } from '@grpc/grpc-js';
import { ERROR_METADATA_KEY, errorInfoFromMetadata, errorInfoToMetadata } from './error-metadata.js';
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
