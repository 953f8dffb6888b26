import { describe, expect, it } from '@jest/globals';
import { Payload } from '@crank/proto';
import { fromPayload, toPayload } from './payload.js';

describe('toPayload', () => {
  it('sends JSON values as application/json', () => {
    const payload = toPayload({ message: 'hi', n: [1, 2] });
    expect(payload.contentType).toBe('application/json');
    expect(Buffer.from(payload.data).toString('utf8')).toBe('{"message":"hi","n":[1,2]}');
  });

  it('sends undefined as JSON null', () => {
    expect(Buffer.from(toPayload(undefined).data).toString('utf8')).toBe('null');
  });

  it('sends bytes as they are, with the given content type or octet-stream', () => {
    const pdf = toPayload(Buffer.from('%PDF-1.7'), 'application/pdf');
    expect(pdf.contentType).toBe('application/pdf');
    expect(Buffer.from(pdf.data).toString('latin1')).toBe('%PDF-1.7');

    expect(toPayload(new Uint8Array([1, 2, 3])).contentType).toBe('application/octet-stream');
  });

  it('sends only the viewed bytes of a Uint8Array over a larger buffer', () => {
    const whole = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const payload = toPayload(whole.subarray(2, 5));
    expect([...payload.data]).toEqual([1, 2, 3]);
  });
});

describe('fromPayload', () => {
  const payload = (contentType: string, data: Buffer): Payload => Payload.fromPartial({ contentType, data });

  it('parses JSON content types, including +json suffixes and parameters', () => {
    expect(fromPayload(payload('application/json', Buffer.from('{"a":1}')))).toEqual({ a: 1 });
    expect(fromPayload(payload('application/problem+json', Buffer.from('[true]')))).toEqual([true]);
    expect(fromPayload(payload('application/json; charset=utf-8', Buffer.from('"x"')))).toBe('x');
  });

  it('reads a payload with no content type as JSON', () => {
    expect(fromPayload(payload('', Buffer.from('42')))).toBe(42);
  });

  it('answers null for an empty JSON payload', () => {
    expect(fromPayload(payload('application/json', Buffer.from('')))).toBeNull();
    expect(fromPayload(payload('', Buffer.from('')))).toBeNull();
  });

  it('hands any other content type back as a Buffer', () => {
    const result = fromPayload(payload('image/png', Buffer.from([0x89, 0x50])));
    expect(Buffer.isBuffer(result)).toBe(true);
    expect([...(result as Buffer)]).toEqual([0x89, 0x50]);
  });

  it('round-trips what toPayload sends', () => {
    const value = { text: 'naïve', list: [null, 1.5] };
    expect(fromPayload(toPayload(value))).toEqual(value);
    const bytes = Buffer.from([0, 255, 7]);
    expect(fromPayload(toPayload(bytes, 'application/x-thing'))).toEqual(bytes);
  });
});
