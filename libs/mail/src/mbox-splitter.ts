/**
 * What {@link MboxSplitter} sees in an mbox, in order. Between a `message` and its `end` come the
 * message's bytes as `data` events: the `From ` line left out, mboxrd quoting undone (`>From `
 * becomes `From `, `>>From ` becomes `>From `), and the blank line that separates it from the next
 * message left out.
 */
export type MboxEvent =
  | {
      type: 'message';
      /** Byte offset of the message's `From ` line. */
      offset: number;
      /** The `From ` line (envelope sender and date), without its line break, cut to 1,000 characters. */
      fromLine: string;
    }
  | { type: 'data'; data: Buffer }
  | {
      type: 'end';
      /** Bytes of the mbox the message took: from its `From ` line to the next one (or the end). */
      size: number;
    }
  | {
      /** Bytes before the first `From ` line that are not blank: no message. */
      type: 'preamble';
      offset: number;
      size: number;
    };

const LF = 0x0a;
const CR = 0x0d;
const GT = 0x3e;
const FROM = Buffer.from('From ');
const FROM_LINE_MAX = 1000;
const LF_LINE = Buffer.from('\n');
const CRLF_LINE = Buffer.from('\r\n');
/** Longest run of `>` read as mboxrd quoting; a longer one is just text. */
const QUOTE_RUN_MAX = 1024;

/**
 * Splits an mbox into messages as its bytes stream through, chunks cut anywhere, holding at most
 * a few bytes of a line start between chunks: a message of any size passes through as `data`
 * events, never whole. Every line that starts with `From ` starts a message (as Python's `mailbox`
 * and most readers do; writers quote such lines in bodies), LF and CRLF files alike, and a last
 * message without a final line break ends at the end of the input.
 */
export class MboxSplitter {
  /** Bytes read before the current chunk. */
  private consumed = 0;
  private inMessage = false;
  private messageStart = 0;
  /** Whether the preamble (bytes before the first message) holds anything but white space. */
  private preambleText = false;
  /** The start of a line not yet classified (it may yet turn out to be a `From ` line). */
  private head: Buffer | undefined;
  /** Whether the next byte starts a line. */
  private lineStart = true;
  /** Set while reading a `From ` line: its text so far. */
  private fromLine: string | undefined;
  /** A blank line held back: it goes to the message unless a `From ` line follows it. */
  private heldBlank: Buffer | undefined;

  /** The events of the next chunk. */
  write(chunk: Uint8Array): MboxEvent[] {
    const events: MboxEvent[] = [];
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let base = this.consumed;
    if (this.head) {
      base -= this.head.length;
      buf = Buffer.concat([this.head, buf]);
      this.head = undefined;
    }
    this.consumed += chunk.byteLength;
    this.scan(buf, base, false, events);
    return events;
  }

  /** The events at the end of the input. */
  end(): MboxEvent[] {
    const events: MboxEvent[] = [];
    if (this.head) {
      const head = this.head;
      this.head = undefined;
      this.scan(head, this.consumed - head.length, true, events);
    }
    // A last message that is only a `From ` line without a line break.
    if (this.fromLine !== undefined) this.startMessage(events);
    this.closeSegment(this.consumed, events);
    return events;
  }

  private scan(buf: Buffer, base: number, final: boolean, events: MboxEvent[]): void {
    const len = buf.length;
    let pos = 0;
    // Start of the bytes read but not yet sent as `data`.
    let run = 0;
    // A blank line of this chunk that ends the run read so far (it may be a separator): its start.
    let blankAt = -1;
    const flush = (to: number): void => {
      if (this.inMessage && to > run) events.push({ type: 'data', data: buf.subarray(run, to) });
    };
    while (pos < len) {
      if (this.fromLine !== undefined) {
        const nl = buf.indexOf(LF, pos);
        const end = nl < 0 ? len : nl;
        if (this.fromLine.length < FROM_LINE_MAX) {
          this.fromLine += buf.toString('latin1', pos, Math.min(end, pos + FROM_LINE_MAX));
        }
        if (nl < 0) return;
        this.startMessage(events);
        pos = run = nl + 1;
        this.lineStart = true;
        continue;
      }
      if (!this.lineStart) {
        const nl = buf.indexOf(LF, pos);
        if (nl < 0) break;
        pos = nl + 1;
        this.lineStart = true;
        continue;
      }
      // A line starts at pos: a separator, a quoted line, a blank line, or text?
      const kind = lineKind(buf, pos, final);
      if (kind === 'unknown') {
        flush(blankAt >= 0 ? blankAt : pos);
        this.holdBlank(buf, blankAt);
        this.head = Buffer.from(buf.subarray(pos));
        return;
      }
      if (kind === 'from') {
        // The blank line before a separator is the separator's, not the message's.
        flush(blankAt >= 0 ? blankAt : pos);
        blankAt = -1;
        this.heldBlank = undefined;
        this.closeSegment(base + pos, events);
        this.inMessage = true;
        this.messageStart = base + pos;
        this.fromLine = '';
        pos = run = pos + FROM.length;
        continue;
      }
      if (this.heldBlank) {
        // The blank line that ended the last chunk is followed by no separator: it is the message's.
        if (this.inMessage) events.push({ type: 'data', data: this.heldBlank });
        this.heldBlank = undefined;
      }
      if (kind === 'blank-lf' || kind === 'blank-crlf') {
        blankAt = pos;
        pos += kind === 'blank-lf' ? 1 : 2;
        continue;
      }
      blankAt = -1;
      if (kind === 'quoted') {
        flush(pos);
        run = pos + 1; // one ">" less
      }
      if (!this.inMessage && !this.preambleText) this.preambleText = !isBlankLine(buf, pos);
      this.lineStart = false;
    }
    flush(blankAt >= 0 ? blankAt : len);
    this.holdBlank(buf, blankAt);
  }

  /** Keeps the blank line at `blankAt` (when there is one) until the next line says whose it is. */
  private holdBlank(buf: Buffer, blankAt: number): void {
    if (blankAt >= 0) this.heldBlank = buf[blankAt] === CR ? CRLF_LINE : LF_LINE;
  }

  /** Ends the message (or the preamble) that runs up to `offset`. */
  private closeSegment(offset: number, events: MboxEvent[]): void {
    if (this.inMessage) {
      events.push({ type: 'end', size: offset - this.messageStart });
    } else if (this.preambleText && offset > 0) {
      events.push({ type: 'preamble', offset: 0, size: offset });
      this.preambleText = false;
    }
    this.heldBlank = undefined;
  }

  private startMessage(events: MboxEvent[]): void {
    const fromLine = (this.fromLine ?? '').replace(/\r$/, '').slice(0, FROM_LINE_MAX);
    this.fromLine = undefined;
    events.push({ type: 'message', offset: this.messageStart, fromLine });
  }
}

type LineKind = 'from' | 'quoted' | 'blank-lf' | 'blank-crlf' | 'text' | 'unknown';

/**
 * What the line at `pos` is, from its first bytes; `unknown` when the chunk ends before that is
 * known (unless `final`: the input ends there).
 */
function lineKind(buf: Buffer, pos: number, final: boolean): LineKind {
  const len = buf.length;
  const first = buf[pos];
  if (first === LF) return 'blank-lf';
  if (first === CR) {
    if (pos + 1 >= len) return final ? 'text' : 'unknown';
    return buf[pos + 1] === LF ? 'blank-crlf' : 'text';
  }
  if (first === 0x46 /* F */) return startsWithFrom(buf, pos, final);
  if (first !== GT) return 'text';
  let at = pos;
  while (at < len && buf[at] === GT && at - pos < QUOTE_RUN_MAX) at++;
  if (at - pos >= QUOTE_RUN_MAX) return 'text';
  if (at >= len) return final ? 'text' : 'unknown';
  const from = startsWithFrom(buf, at, final);
  return from === 'from' ? 'quoted' : from;
}

function startsWithFrom(buf: Buffer, at: number, final: boolean): 'from' | 'text' | 'unknown' {
  const available = Math.min(buf.length - at, FROM.length);
  if (buf.compare(FROM, 0, available, at, at + available) !== 0) return 'text';
  if (available < FROM.length) return final ? 'text' : 'unknown';
  return 'from';
}

/** Whether the line at `pos` holds only white space. */
function isBlankLine(buf: Buffer, pos: number): boolean {
  for (let i = pos; i < buf.length; i++) {
    const c = buf[i];
    if (c === LF) return true;
    if (c !== 0x20 && c !== 0x09 && c !== CR && c !== 0x0c) return false;
  }
  return true;
}

/**
 * {@link MboxSplitter} over an async source of chunks: the pure streaming form. Reads a chunk
 * only when the events of the previous one have been taken.
 */
export async function* splitMbox(source: AsyncIterable<Uint8Array>): AsyncGenerator<MboxEvent> {
  const splitter = new MboxSplitter();
  for await (const chunk of source) yield* splitter.write(chunk);
  yield* splitter.end();
}
