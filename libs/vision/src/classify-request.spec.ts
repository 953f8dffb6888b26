import { describe, expect, it } from '@jest/globals';
import { readClassifyRequest } from './classify-request.js';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]);
const MIB = 1024 * 1024;

describe('readClassifyRequest', () => {
  it('reads raw bytes with a threshold parameter', () => {
    expect(readClassifyRequest(JPEG, 'image/jpeg; threshold=0.25')).toEqual({
      images: [JPEG],
      batch: false,
      threshold: 0.25,
    });
  });

  it('reads base64 image and images', () => {
    const base64 = JPEG.toString('base64');
    expect(readClassifyRequest({ image: base64 }, 'application/json')).toEqual({
      images: [JPEG],
      batch: false,
      threshold: undefined,
    });
    expect(readClassifyRequest({ images: [base64, base64], threshold: 0.1 }, '')).toEqual({
      images: [JPEG, JPEG],
      batch: true,
      threshold: 0.1,
    });
  });

  it('refuses an image over 20 MiB with PAYLOAD_TOO_LARGE before decoding it', () => {
    expect(() => readClassifyRequest(Buffer.alloc(20 * MIB + 1), 'image/png')).toThrow(
      expect.objectContaining({
        code: 'PAYLOAD_TOO_LARGE',
        message: `content: ${20 * MIB + 1} bytes is more than an image may be (${20 * MIB} bytes)`,
      }),
    );
    const big = 'A'.repeat((Math.ceil((20 * MIB) / 3) + 1) * 4);
    expect(() => readClassifyRequest({ images: ['AAAA', big] }, '')).toThrow(
      expect.objectContaining({
        code: 'PAYLOAD_TOO_LARGE',
        message: expect.stringMatching(/^images\[1\]: /),
      }),
    );
  });

  it('refuses raw bytes that are no image of the type sent, and unknown parameters', () => {
    expect(() => readClassifyRequest(Buffer.from('hello'), 'image/jpeg')).toThrow(
      expect.objectContaining({
        code: 'INVALID_INPUT',
        message:
          'content: is not a valid jpeg image (sent as image/jpeg, its first bytes are no image format)',
      }),
    );
    expect(() => readClassifyRequest(JPEG, 'image/jpeg; topk=3')).toThrow(
      'content-type parameter topk: not known (classify.image takes threshold)',
    );
    expect(() => readClassifyRequest(JPEG, 'image/jpeg; threshold=2')).toThrow(
      'content-type parameter threshold: must be a number from 0 to 1 (got "2")',
    );
  });
});
