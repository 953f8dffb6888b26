import { TextDecoder } from 'node:util';
import { createHash, type Hash } from 'node:crypto';
import { createDecoder } from './charsets.js';

/** Where a part's decoded bytes go. */
export interface BodySink {
  write(bytes: Buffer): void;
}

/**
 * Keeps the text of a part up to `maxChars` characters, decoding its charset as the bytes come
 * (a character split between chunks comes out whole); past the limit the bytes are only counted,
 * so that a 100 MB text part costs what the limit allows. `charsetKnown` is false when the
 * platform does not know the charset (the text is then read as UTF-8).
 */
export class TextCollector implements BodySink {
  readonly charsetKnown: boolean;
  private readonly decoder: TextDecoder;
  private readonly pieces: string[] = [];
  private chars = 0;
  private full = false;
  private truncated_ = false;

  constructor(
    charset: string,
    private readonly maxChars: number,
  ) {
    const decoder = createDecoder(charset);
    this.charsetKnown = decoder !== undefined;
    this.decoder = decoder ?? new TextDecoder('utf-8');
    this.full = maxChars <= 0;
  }

  write(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.full) {
      this.truncated_ = true;
      return;
    }
    const text = this.decoder.decode(bytes, { stream: true });
    this.pieces.push(text);
    this.chars += text.length;
    if (this.chars >= this.maxChars) this.full = true;
  }

  /** Whether text was left out past `maxChars`. */
  get truncated(): boolean {
    return this.truncated_ || this.chars > this.maxChars;
  }

  /** The text kept, line breaks as `\n`, `maxChars` characters at most. */
  text(): string {
    if (!this.full) this.pieces.push(this.decoder.decode());
    const text = this.pieces.join('').replace(/\r\n?/g, '\n');
    return text.length > this.maxChars ? text.slice(0, this.maxChars) : text;
  }
}

/** Counts and hashes (SHA-256) an attachment's bytes, keeping none of them. */
export class AttachmentDigest implements BodySink {
  private readonly hash: Hash = createHash('sha256');
  private size_ = 0;

  write(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.hash.update(bytes);
    this.size_ += bytes.length;
  }

  /** Size in bytes and lower-case hex SHA-256; call once, at the end of the part. */
  digest(): { size: number; sha256: string } {
    return { size: this.size_, sha256: this.hash.digest('hex') };
  }
}
