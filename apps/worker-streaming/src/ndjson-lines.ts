/** One line of an NDJSON byte stream, without its line break, and where it started. */
export interface Line {
  text: string;
  /** Byte offset of its first byte in the stream. */
  offset: number;
}

/** A line longer than this is reported as malformed and skipped, not buffered. */
export const MAX_LINE_BYTES = 1024 * 1024;

/**
 * Splits NDJSON bytes arriving in chunks of any size into lines (LF or CRLF; blank lines
 * skipped). A line cut across chunks is joined; one over {@link MAX_LINE_BYTES} comes out as
 * `{ tooLong: true }` without being held whole.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingOffset = 0;
  private skipping = false;
  private consumed = 0;

  /** The complete lines in `chunk`, in order. */
  *push(chunk: Buffer): Generator<Line | { tooLong: true; offset: number }> {
    let from = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, from);
      if (newline < 0) break;
      const piece = chunk.subarray(from, newline);
      const offset = this.pendingBytes > 0 || this.skipping ? this.pendingOffset : this.consumed + from;
      if (this.skipping) {
        this.skipping = false;
        yield { tooLong: true, offset };
      } else if (this.pendingBytes + piece.length > MAX_LINE_BYTES) {
        this.reset();
        yield { tooLong: true, offset };
      } else {
        const whole = this.pendingBytes > 0 ? Buffer.concat([...this.pending, piece]) : piece;
        this.reset();
        const text = whole.toString('utf8', 0, whole.length - (whole[whole.length - 1] === 0x0d ? 1 : 0));
        if (text.trim() !== '') yield { text, offset };
      }
      from = newline + 1;
    }
    if (from < chunk.length) {
      const rest = chunk.subarray(from);
      if (this.pendingBytes === 0 && !this.skipping) this.pendingOffset = this.consumed + from;
      if (!this.skipping) {
        if (this.pendingBytes + rest.length > MAX_LINE_BYTES) {
          this.reset();
          this.skipping = true;
        } else {
          // Copied: the chunk's memory may be reused by the transport.
          this.pending.push(Buffer.from(rest));
          this.pendingBytes += rest.length;
        }
      }
    }
    this.consumed += chunk.length;
  }

  /** The last line, when the stream does not end with a line break. */
  *end(): Generator<Line | { tooLong: true; offset: number }> {
    if (this.skipping) {
      this.skipping = false;
      yield { tooLong: true, offset: this.pendingOffset };
    } else if (this.pendingBytes > 0) {
      const text = Buffer.concat(this.pending).toString('utf8');
      const offset = this.pendingOffset;
      this.reset();
      if (text.trim() !== '') yield { text, offset };
    }
  }

  private reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }
}
