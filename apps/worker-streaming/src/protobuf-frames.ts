import { CrankError } from '@crank/capabilities';

/** Largest frame taken: a longer length prefix means a broken stream (frames cannot be resynced). */
export const MAX_FRAME_BYTES = 1024 * 1024;

/**
 * Splits length-delimited protobuf frames (each message prefixed with its length as a varint)
 * arriving in chunks of any size. A frame cut across chunks is joined.
 */
export class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);
  /** Stream offset of `pending[0]`. */
  private base = 0;

  /**
   * The complete frames so far, with the offset of each one's length prefix.
   *
   * @throws CrankError INVALID_INPUT for a length prefix over {@link MAX_FRAME_BYTES} or a bad varint
   */
  *push(chunk: Buffer): Generator<{ frame: Buffer; offset: number }> {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    for (;;) {
      const prefix = readVarint(this.pending, at);
      if (prefix === undefined) break;
      if (prefix.value > MAX_FRAME_BYTES) {
        throw new CrankError(
          'INVALID_INPUT',
          `frame at byte ${this.base + at}: length ${prefix.value} is over ${MAX_FRAME_BYTES} (frames are varint-length-prefixed protobuf messages)`,
        );
      }
      const end = prefix.next + prefix.value;
      if (end > this.pending.length) break;
      yield { frame: this.pending.subarray(prefix.next, end), offset: this.base + at };
      at = end;
    }
    // What is left is the start of the next frame: copied, as the chunk's memory may be reused.
    this.base += at;
    this.pending = Buffer.from(this.pending.subarray(at));
  }

  /** @throws CrankError INVALID_INPUT when the stream ends inside a frame */
  end(): void {
    if (this.pending.length > 0) {
      throw new CrankError('INVALID_INPUT', `frame at byte ${this.base}: the stream ended inside it`);
    }
  }
}

/** A varint at `at`, or undefined when `bytes` ends inside it. */
function readVarint(bytes: Buffer, at: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = 0; i < 5; i += 1) {
    const byte = bytes[at + i];
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return { value, next: at + i + 1 };
  }
  throw new CrankError(
    'INVALID_INPUT',
    `frame at byte ${at}: its length is not a varint of 5 bytes or fewer`,
  );
}
