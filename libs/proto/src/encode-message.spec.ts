import { describe, expect, it } from '@jest/globals';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { KEPT_WRITER_BYTES, encodeMessage } from './encode-message.js';
import { ExecuteRequest } from './generated/crank/v1/worker.js';

const request = (bytes: number): ExecuteRequest =>
  ExecuteRequest.fromPartial({
    capability: 'debug.echo',
    version: '1.0.0',
    requestId: 'r-1',
    caller: 'tests',
    input: { contentType: 'application/json', data: Buffer.alloc(bytes, 0x61) },
  });

/** What ts-proto's own serializer produces. */
const plain = (message: ExecuteRequest): Buffer => Buffer.from(ExecuteRequest.encode(message).finish());

describe('encodeMessage', () => {
  it('gives the bytes ts-proto does, for small, large and repeated messages', () => {
    // One past the size of writer kept between messages, and small ones after it.
    for (const bytes of [0, 46, 200, 65_536, 46, KEPT_WRITER_BYTES + 1, 10]) {
      const message = request(bytes);
      const encoded = encodeMessage(ExecuteRequest, message);
      expect(encoded).toBeInstanceOf(Buffer);
      expect(encoded.equals(plain(message))).toBe(true);
      expect(ExecuteRequest.decode(encoded)).toEqual(message);
    }
  });

  it('hands out bytes that a later message does not overwrite', () => {
    const first = encodeMessage(ExecuteRequest, request(1_000));
    const kept = Buffer.from(first);
    encodeMessage(ExecuteRequest, request(2_000));
    encodeMessage(ExecuteRequest, request(10));
    expect(first.equals(kept)).toBe(true);
    // Each message owns its memory: nothing of the writer's buffer is left around it.
    expect(first.byteOffset).toBe(0);
    expect(first.buffer.byteLength).toBe(first.byteLength);
  });

  it('starts afresh after an encoder that throws mid-message', () => {
    const failing = {
      encode(_: unknown, writer: BinaryWriter = new BinaryWriter()): BinaryWriter {
        writer.uint32(10).string('half a message').fork();
        throw new Error('cannot encode');
      },
    };
    expect(() => encodeMessage(failing, {})).toThrow('cannot encode');
    const message = request(46);
    expect(encodeMessage(ExecuteRequest, message).equals(plain(message))).toBe(true);
  });
});
