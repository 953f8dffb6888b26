import { decodeHeaderBytes } from './charsets.js';
import { decodeEncodedWords } from './encoded-words.js';

/** What {@link HeaderBlock.addLine} made of a line. */
export type HeaderLine = 'field' | 'continuation' | 'not-a-header';

/** One header field, its value still as bytes (folding kept). */
interface RawField {
  name: string;
  pieces: Buffer[];
  bytes: number;
}

/** Longest value kept of one field; the rest is dropped and {@link HeaderBlock.truncated} set. */
export const FIELD_BYTES_MAX = 64 * 1024;
const SPACE = 0x20;
const TAB = 0x09;
const COLON = 0x3a;

/**
 * The header block of a message or of a MIME part, read line by line (lines without their line
 * break). Only the fields named in `wanted` are kept, unless `keepAll`: a summary needs a few
 * fields of the dozens a message carries, and decoding the others is most of the cost. Bounded:
 * past `maxBytes` of header lines the rest is counted and skipped.
 */
export class HeaderBlock {
  private readonly fields: RawField[] = [];
  private current: RawField | undefined;
  /** Whether the last field read is one being skipped (its continuation lines are skipped too). */
  private skipping = false;
  private bytes = 0;
  /** Set when the block was larger than `maxBytes`. */
  tooLarge = false;
  /** Set when a field was longer than {@link FIELD_BYTES_MAX}. */
  truncated = false;
  /** Set when a kept field was not UTF-8 (it was read as Latin-1). */
  latin1 = false;
  /** Set when an encoded word names a charset the platform does not know. */
  unknownCharset: string | undefined;
  /** Fields read, kept or not. */
  count = 0;

  constructor(
    private readonly wanted: ReadonlySet<string>,
    private readonly keepAll: boolean,
    private readonly maxBytes: number,
  ) {}

  /** Reads one line of the block (no line break). */
  addLine(line: Buffer): HeaderLine {
    const first = line[0];
    if (first === SPACE || first === TAB) {
      if (this.count === 0) return 'not-a-header';
      this.bytes += line.length;
      if (this.bytes > this.maxBytes) {
        this.tooLarge = true;
        this.skipping = true;
      }
      if (!this.skipping && this.current) this.append(this.current, line);
      return 'continuation';
    }
    const colon = line.indexOf(COLON);
    if (colon <= 0 || !validName(line, colon)) return 'not-a-header';
    this.count++;
    this.bytes += line.length;
    if (this.bytes > this.maxBytes) {
      this.tooLarge = true;
      this.skipping = true;
      return 'field';
    }
    const name = line.toString('latin1', 0, colon).trimEnd().toLowerCase();
    if (!this.keepAll && !this.wanted.has(name)) {
      this.skipping = true;
      return 'field';
    }
    this.skipping = false;
    this.current = { name, pieces: [], bytes: 0 };
    this.fields.push(this.current);
    this.append(this.current, line.subarray(colon + 1));
    return 'field';
  }

  /** The first value of `name`, unfolded, encoded words decoded, trimmed. */
  get(name: string): string | undefined {
    const field = this.fields.find((f) => f.name === name);
    return field ? this.decode(field, true) : undefined;
  }

  /** The first value of `name`, unfolded and trimmed, encoded words left as they are. */
  getRaw(name: string): string | undefined {
    const field = this.fields.find((f) => f.name === name);
    return field ? this.decode(field, false) : undefined;
  }

  /** Every kept field as `[name, decoded value]`, in order. */
  entries(): [string, string][] {
    return this.fields.map((field) => [field.name, this.decode(field, true)]);
  }

  private append(field: RawField, piece: Buffer): void {
    if (field.bytes >= FIELD_BYTES_MAX) {
      this.truncated = true;
      return;
    }
    const room = FIELD_BYTES_MAX - field.bytes;
    if (piece.length > room) this.truncated = true;
    // Copied: the line is a view of a chunk that the caller does not keep.
    const kept = Buffer.from(piece.length > room ? piece.subarray(0, room) : piece);
    field.pieces.push(kept);
    field.bytes += kept.length;
  }

  private decode(field: RawField, words: boolean): string {
    const bytes = field.pieces.length === 1 ? (field.pieces[0] as Buffer) : Buffer.concat(field.pieces);
    const { text, latin1 } = decodeHeaderBytes(bytes);
    if (latin1) this.latin1 = true;
    const unfolded = text.trim();
    if (!words) return unfolded;
    const decoded = decodeEncodedWords(unfolded);
    if (decoded.unknownCharset) this.unknownCharset ??= decoded.unknownCharset;
    return decoded.text;
  }
}

/**
 * Whether the bytes before the colon are a field name: printable ASCII but the colon (RFC 5322
 * `ftext`), with white space allowed only before the colon (the obsolete `Subject :` syntax).
 */
function validName(line: Buffer, colon: number): boolean {
  let end = colon;
  while (end > 0 && (line[end - 1] === SPACE || line[end - 1] === TAB)) end--;
  if (end === 0) return false;
  for (let i = 0; i < end; i++) {
    const c = line[i] as number;
    if (c < 33 || c > 126) return false;
  }
  return true;
}
