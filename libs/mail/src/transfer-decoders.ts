import { MAIL_WARNING_CODES, type MailWarningCode } from './mail-warnings.js';

/**
 * Decodes a part's body as it streams through (Content-Transfer-Encoding), holding at most a
 * few bytes between chunks. Chunks may be cut anywhere.
 */
export interface TransferDecoder {
  /**
   * The decoded bytes of `chunk` (possibly none): a view of a buffer the decoder may reuse, to be
   * read before the next call.
   */
  write(chunk: Buffer): Buffer;
  /** What is left at the end of the part. */
  end(): Buffer;
}

/** Told once per kind of problem a decoder meets; the bytes are decoded anyway, leniently. */
export type DecodeProblem = (code: MailWarningCode, message: string) => void;

const EMPTY = Buffer.alloc(0);

/**
 * The decoder for a `Content-Transfer-Encoding` value: base64, quoted-printable, or the identity
 * for 7bit, 8bit, binary and none. An unknown encoding is reported and read as the identity.
 */
export function createTransferDecoder(encoding: string, problem: DecodeProblem): TransferDecoder {
  switch (encoding) {
    case 'base64':
      return new Base64Decoder(problem);
    case 'quoted-printable':
      return new QuotedPrintableDecoder(problem);
    case '':
    case '7bit':
    case '8bit':
    case 'binary':
      return IDENTITY;
    default:
      problem(
        MAIL_WARNING_CODES.unknownTransferEncoding,
        `Content-Transfer-Encoding "${encoding.slice(0, 40)}" is unknown; read as 8bit`,
      );
      return IDENTITY;
  }
}

const IDENTITY: TransferDecoder = { write: (chunk) => chunk, end: () => EMPTY };

const NOT_BASE64 = /[^A-Za-z0-9+/=]/;
const WHITESPACE = /[\r\n\t ]+/g;
const NOT_BASE64_ALL = /[^A-Za-z0-9+/=]+/g;
const SEPARATORS = [0x0a, 0x0d, 0x20, 0x09];

/**
 * Base64 across chunks: whitespace is skipped, other stray characters are skipped and reported,
 * and up to 3 characters of an unfinished group wait for the next chunk. Padding in the middle
 * (two encoded files glued together) ends a segment and decoding goes on after it.
 *
 * A mailbox is mostly base64, so the common case (lines of base64 and line breaks) takes a path
 * that allocates no buffer: count the line breaks, keep back the characters of an unfinished
 * group, and let Node decode the rest into a buffer reused from chunk to chunk (skipping the line
 * breaks itself). When the decoded length is not the one expected (padding, stray characters),
 * the chunk is read again the careful way.
 */
class Base64Decoder implements TransferDecoder {
  /** Base64 characters of an unfinished group (0 to 3), for the next chunk. */
  private carry = '';
  private scratch = EMPTY;

  constructor(private readonly problem: DecodeProblem) {}

  write(chunk: Buffer): Buffer {
    if (this.scratch.length < chunk.length + 4)
      this.scratch = Buffer.allocUnsafe(Math.max(chunk.length + 4, 64 * 1024));
    const out = this.scratch;
    let start = 0;
    let head = 0;
    if (this.carry !== '') {
      // Complete the carried group with the first base64 characters of this chunk.
      let group = this.carry;
      while (group.length < 4 && start < chunk.length) {
        const byte = chunk[start++] as number;
        if (!SEPARATORS.includes(byte)) group += String.fromCharCode(byte);
      }
      if (group.length < 4 || NOT_BASE64.test(group))
        return this.careful(group + chunk.toString('latin1', start));
      this.carry = '';
      head = out.write(group, 0, 'base64');
    }
    const rest = start === 0 ? chunk : chunk.subarray(start);
    const decoded = this.fast(rest, out, head);
    if (decoded !== undefined) return out.subarray(0, head + decoded);
    const careful = this.careful(rest.toString('latin1'));
    return head === 0 ? careful : Buffer.concat([out.subarray(0, head), careful]);
  }

  end(): Buffer {
    const rest = this.carry.replace(WHITESPACE, '');
    this.carry = '';
    const data = rest.replace(/=+$/, '');
    if (data === '') return EMPTY;
    // A group cut short is fine when padded ("QQ="), a sign of truncation when not.
    if (data === rest)
      this.problem(MAIL_WARNING_CODES.badBase64, 'the base64 text ends in the middle of a group');
    return Buffer.from(data.replace(NOT_BASE64_ALL, ''), 'base64');
  }

  /**
   * Decodes plain base64 lines into `out` at `at`; answers the bytes written, or undefined when
   * the chunk is not only that (then nothing counts and the careful way reads it).
   */
  private fast(chunk: Buffer, out: Buffer, at: number): number | undefined {
    let separators = 0;
    for (const byte of SEPARATORS) {
      for (let i = chunk.indexOf(byte); i >= 0; i = chunk.indexOf(byte, i + 1)) separators++;
    }
    const valid = chunk.length - separators;
    // Keep back the characters of the last, unfinished group.
    let cut = chunk.length;
    for (let extra = valid % 4; extra > 0; cut--) {
      if (!SEPARATORS.includes(chunk[cut - 1] as number)) extra--;
    }
    const whole = valid - (valid % 4);
    const written = whole === 0 ? 0 : out.write(chunk.toString('latin1', 0, cut), at, 'base64');
    if (written !== (whole / 4) * 3) return undefined;
    this.carry = chunk.toString('latin1', cut).replace(WHITESPACE, '');
    return written;
  }

  /** Decodes `input` (carry included) skipping whatever is not base64; keeps an unfinished group. */
  private careful(input: string): Buffer {
    let text = input;
    if (NOT_BASE64.test(text)) {
      text = text.replace(WHITESPACE, '');
      if (NOT_BASE64.test(text)) {
        this.problem(MAIL_WARNING_CODES.badBase64, 'characters that are not base64 were skipped');
        text = text.replace(NOT_BASE64_ALL, '');
      }
    }
    const lastPad = text.lastIndexOf('=');
    if (lastPad < 0) return this.complete(text);
    // Everything up to the last "=" ends with padding: each segment decodes on its own.
    const parts: Buffer[] = [];
    for (const segment of text.slice(0, lastPad + 1).split(/=+/)) {
      if (segment !== '') parts.push(Buffer.from(segment, 'base64'));
    }
    parts.push(this.complete(text.slice(lastPad + 1)));
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  /** Decodes the whole groups of `text` and keeps the rest for the next chunk. */
  private complete(text: string): Buffer {
    const whole = text.length - (text.length % 4);
    this.carry = text.slice(whole);
    return whole === 0 ? EMPTY : Buffer.from(whole === text.length ? text : text.slice(0, whole), 'base64');
  }
}

const EQUALS = 0x3d;
const CR = 0x0d;
const LF = 0x0a;

/**
 * Quoted-printable across chunks: `=XX` escapes, soft line breaks (`=` at the end of a line,
 * transport padding after it allowed), everything else as it is. A chunk ending inside an escape
 * keeps those bytes for the next one. A bad escape is kept as written and reported.
 */
class QuotedPrintableDecoder implements TransferDecoder {
  private carry: Buffer | undefined;
  /** Where decoded bytes go, reused from chunk to chunk. */
  private scratch = EMPTY;

  constructor(private readonly problem: DecodeProblem) {}

  write(chunk: Buffer): Buffer {
    const data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    let eq = data.indexOf(EQUALS);
    if (eq < 0) return data;
    if (this.scratch.length < data.length)
      this.scratch = Buffer.allocUnsafe(Math.max(data.length, 64 * 1024));
    const out = this.scratch;
    let length = 0;
    let pos = 0;
    while (eq >= 0) {
      length += data.copy(out, length, pos, eq);
      const step = this.escape(data, eq);
      if (step === undefined) {
        this.carry = Buffer.from(data.subarray(eq));
        return out.subarray(0, length);
      }
      if (step.byte !== undefined) out[length++] = step.byte;
      pos = eq + step.skip;
      eq = data.indexOf(EQUALS, pos);
    }
    length += data.copy(out, length, pos);
    return out.subarray(0, length);
  }

  end(): Buffer {
    const rest = this.carry;
    this.carry = undefined;
    // "=" (and padding) at the very end: a soft break whose line break went to the boundary.
    if (!rest || /^=[ \t\r]*$/.test(rest.toString('latin1'))) return EMPTY;
    this.problem(MAIL_WARNING_CODES.badQuotedPrintable, 'the text ends inside an "=" escape');
    return rest;
  }

  /**
   * What the `=` at `at` stands for: a byte and how many bytes it took, a soft break (no byte),
   * the `=` itself when the escape is bad, or undefined when the chunk ends before it is known.
   */
  private escape(data: Buffer, at: number): { byte?: number; skip: number } | undefined {
    const a = data[at + 1];
    if (a === undefined) return undefined;
    if (a === LF) return { skip: 2 };
    const b = data[at + 2];
    if (isHex(a)) {
      if (b === undefined) return undefined;
      if (isHex(b)) return { byte: hexValue(a) * 16 + hexValue(b), skip: 3 };
    }
    // Transport padding between "=" and the line break is allowed (RFC 2045 6.7 rule 3).
    let i = at + 1;
    while (data[i] === 0x20 || data[i] === 0x09) i++;
    if (data[i] === CR && data[i + 1] === LF) return { skip: i + 2 - at };
    if (data[i] === LF) return { skip: i + 1 - at };
    if (i >= data.length || (data[i] === CR && i + 1 >= data.length)) {
      // The chunk ends in the padding (or between CR and LF): wait, unless that is absurdly long.
      return i - at < 1024 ? undefined : this.bad();
    }
    return this.bad();
  }

  private bad(): { byte: number; skip: number } {
    this.problem(MAIL_WARNING_CODES.badQuotedPrintable, '"=" not followed by two hex digits; kept');
    return { byte: EQUALS, skip: 1 };
  }
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function hexValue(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
}
