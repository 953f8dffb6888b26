import type { EmailAttachment } from '@crank/capabilities';
import { AttachmentDigest, TextCollector } from './body-sinks.js';
import { HeaderBlock } from './header-block.js';
import { MailWarnings, MAIL_WARNING_CODES, quote } from './mail-warnings.js';
import { summarizeMessage, type ParsedMessage } from './message-summary.js';
import { BOUNDARY_MAX, isBodyText, PART_FIELDS, readPartInfo, type PartInfo } from './mime-part.js';
import { createTransferDecoder, type TransferDecoder } from './transfer-decoders.js';

/** Options of a {@link MessageParser}; every field is optional. */
export interface MessageParserOptions {
  /** Characters of text/plain kept (the rest is counted, not kept). @default 1048576 */
  maxTextChars?: number;
  /** Characters of text/html kept. @default 65536 */
  maxHtmlChars?: number;
  /** Keep every header of the message for {@link ParsedMessage.headers}. @default false */
  keepHeaders?: boolean;
  /** Bytes of one header block read; the rest is skipped. @default 1048576 */
  maxHeaderBytes?: number;
  /** MIME parts parsed; later ones are skipped (their bytes still read). @default 1000 */
  maxParts?: number;
}

/** {@link MessageParserOptions} with every default filled in. */
export type CompiledMessageParserOptions = Required<MessageParserOptions>;

/** Fills in the defaults of {@link MessageParserOptions}. */
export function compileMessageParserOptions(
  options: MessageParserOptions = {},
): CompiledMessageParserOptions {
  return {
    maxTextChars: options.maxTextChars ?? 1024 * 1024,
    maxHtmlChars: options.maxHtmlChars ?? 64 * 1024,
    keepHeaders: options.keepHeaders ?? false,
    maxHeaderBytes: options.maxHeaderBytes ?? 1024 * 1024,
    maxParts: options.maxParts ?? 1000,
  };
}

/** The fields of a message's own header block that a summary reads. */
const ROOT_FIELDS: ReadonlySet<string> = new Set([
  ...PART_FIELDS,
  'from',
  'to',
  'cc',
  'subject',
  'date',
  'message-id',
]);
/** Multiparts nested deeper than this are hashed as one attachment. */
const DEPTH_MAX = 32;
/** Longest partial line carried between chunks while it may still be a boundary line. */
const DELIMITER_LINE_MAX = 2 + BOUNDARY_MAX + 2 + 300;
/** Longest partial header line carried between chunks; a longer one is skipped. */
const HEADER_LINE_MAX = 128 * 1024;
const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const SPACE = 0x20;
const TAB = 0x09;
const NL_DASH = Buffer.from('\n-');

interface Multipart {
  info: PartInfo;
  delimiter: Buffer;
  children: number;
}

interface Leaf {
  info: PartInfo;
  decoder: TransferDecoder;
  /** Where the decoded bytes go; undefined for a part past the limits (read, not kept). */
  text?: TextCollector;
  html?: TextCollector;
  attachment?: AttachmentDigest;
}

/**
 * A streaming RFC 5322 / MIME parser that keeps a summary, not the message: header fields it
 * reports, text up to a limit, and for each attachment its size and SHA-256, computed as the
 * bytes pass. Feed it chunks cut anywhere with {@link write}, then {@link end}. Memory is bounded
 * by the options whatever the message holds (a 100 MB attachment costs a hash state).
 *
 * Lenient: what does not follow the RFCs is read as well as it can be and reported in `warnings`.
 * Never throws on its input.
 */
export class MessageParser {
  private readonly options: CompiledMessageParserOptions;
  private readonly warnings = new MailWarnings();
  private readonly root: HeaderBlock;
  /** The header block being read, and the multipart it opens a child of (undefined: the root). */
  private headers: HeaderBlock;
  private headersOf: Multipart | undefined;
  private state: 'headers' | 'body' = 'headers';
  /** Open multiparts, outermost first. */
  private readonly stack: Multipart[] = [];
  private leaf: Leaf | undefined;
  /** Whether the next byte to read starts a line (in a body). */
  private lineStart = true;
  /** Bytes of the previous chunk kept to be read again with the next (a line not yet whole). */
  private carry: Buffer | undefined;
  /** Set while the rest of an over-long header line is skipped. */
  private skippingLine = false;
  private parts = 0;
  private bytes = 0;
  private hasHeader = true;
  private readonly texts: string[] = [];
  private readonly htmls: string[] = [];
  private textChars = 0;
  private htmlChars = 0;
  private textTruncated = false;
  private htmlTruncated = false;
  private readonly attachments: EmailAttachment[] = [];

  constructor(options: MessageParserOptions = {}) {
    this.options = compileMessageParserOptions(options);
    this.root = new HeaderBlock(ROOT_FIELDS, this.options.keepHeaders, this.options.maxHeaderBytes);
    this.headers = this.root;
  }

  /** Reads the next bytes of the message. */
  write(chunk: Buffer): void {
    this.bytes += chunk.length;
    const buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    let pos = 0;
    while (pos < buf.length && this.carry === undefined) {
      pos = this.state === 'headers' ? this.headerLines(buf, pos, false) : this.body(buf, pos, false);
    }
  }

  /** Reads what is left and answers the summary. Call once. */
  end(): ParsedMessage {
    const rest = this.carry ?? Buffer.alloc(0);
    this.carry = undefined;
    let pos = 0;
    while (pos < rest.length) {
      pos = this.state === 'headers' ? this.headerLines(rest, pos, true) : this.body(rest, pos, true);
    }
    if (this.state === 'headers') this.endHeaders();
    this.finishLeaf();
    for (const open of [...this.stack].reverse()) {
      this.warnings.add(
        MAIL_WARNING_CODES.unterminatedMultipart,
        `${open.info.contentType} never closes (the message ends first)`,
        open.info.id || undefined,
      );
    }
    return summarizeMessage({
      root: this.root,
      warnings: this.warnings,
      keepHeaders: this.options.keepHeaders,
      hasHeader: this.hasHeader,
      bytes: this.bytes,
      texts: this.texts,
      htmls: this.htmls,
      textTruncated: this.textTruncated,
      htmlTruncated: this.htmlTruncated,
      attachments: this.attachments,
      maxTextChars: this.options.maxTextChars,
    });
  }

  /** Reads header lines from `pos`; answers where reading goes on. */
  private headerLines(buf: Buffer, pos: number, final: boolean): number {
    const len = buf.length;
    while (pos < len) {
      let nl = buf.indexOf(LF, pos);
      if (this.skippingLine) {
        if (nl < 0) return len;
        this.skippingLine = false;
        pos = nl + 1;
        continue;
      }
      let next = nl + 1;
      if (nl < 0) {
        if (!final) {
          if (len - pos > HEADER_LINE_MAX) {
            this.skippingLine = true;
            this.headers.tooLarge = true;
          } else {
            this.carry = buf.subarray(pos);
          }
          return len;
        }
        nl = len;
        next = len;
      }
      const end = nl > pos && buf[nl - 1] === CR ? nl - 1 : nl;
      if (end === pos) {
        this.endHeaders();
        return next;
      }
      const line = buf.subarray(pos, end);
      if (this.headers.addLine(line) === 'not-a-header') {
        if (this.headers === this.root && this.root.count === 0) {
          this.hasHeader = false;
        } else {
          this.warnings.add(
            MAIL_WARNING_CODES.headerSyntax,
            `line ${quote(line.toString('utf8', 0, Math.min(line.length, 80)))} is not a header; the headers end there`,
            this.headersOf ? this.nextChildId(this.headersOf, false) : undefined,
          );
        }
        this.endHeaders();
        return pos; // the line is the first of the body
      }
      pos = next;
    }
    return len;
  }

  /** The header block is over: opens the multipart or the leaf it heads. */
  private endHeaders(): void {
    const block = this.headers;
    const parent = this.headersOf;
    this.state = 'body';
    this.lineStart = true;
    const id = parent ? this.nextChildId(parent, true) : '';
    const defaultType = parent?.info.contentType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
    const info = readPartInfo(block, id, defaultType, this.warnings);
    const warnPart = id === '' ? undefined : id;
    if (block.tooLarge)
      this.warnings.add(
        MAIL_WARNING_CODES.headerTooLarge,
        'the header block is too large; the rest was skipped',
        warnPart,
      );
    if (block !== this.root && block.latin1)
      this.warnings.add(
        MAIL_WARNING_CODES.headerEncoding,
        'part headers are not UTF-8; read as Latin-1',
        warnPart,
      );
    if (parent && ++this.parts > this.options.maxParts) {
      this.warnings.add(
        MAIL_WARNING_CODES.tooManyParts,
        `more than ${this.options.maxParts} parts; the rest are skipped`,
      );
      this.leaf = { info, decoder: createTransferDecoder('', () => undefined) };
      return;
    }
    if (info.delimiter && this.stack.length < DEPTH_MAX) {
      this.stack.push({ info, delimiter: info.delimiter, children: 0 });
      return;
    }
    if (info.delimiter) {
      this.warnings.add(
        MAIL_WARNING_CODES.tooManyParts,
        `multiparts nested deeper than ${DEPTH_MAX}; read as one attachment`,
        warnPart,
      );
      info.contentType = 'application/octet-stream';
    }
    if (id === '') info.id = '1';
    this.startLeaf(info);
  }

  private startLeaf(info: PartInfo): void {
    const decoder = createTransferDecoder(info.encoding, (code, message) =>
      this.warnings.add(code, message, info.id),
    );
    if (!isBodyText(info)) {
      this.leaf = { info, decoder, attachment: new AttachmentDigest() };
      return;
    }
    const html = info.contentType === 'text/html';
    const room = html
      ? this.options.maxHtmlChars - this.htmlChars
      : this.options.maxTextChars - this.textChars;
    const collector = new TextCollector(info.charset ?? 'utf-8', Math.max(0, room));
    if (!collector.charsetKnown) {
      this.warnings.add(
        MAIL_WARNING_CODES.unknownCharset,
        `charset ${quote(info.charset ?? '')} is unknown; read as UTF-8`,
        info.id,
      );
    }
    this.leaf = html ? { info, decoder, html: collector } : { info, decoder, text: collector };
  }

  private finishLeaf(): void {
    const leaf = this.leaf;
    if (!leaf) return;
    this.leaf = undefined;
    this.emitTo(leaf, leaf.decoder.end());
    if (leaf.text) {
      const text = leaf.text.text();
      this.texts.push(text);
      this.textChars += text.length;
      if (leaf.text.truncated) this.textTruncated = true;
    } else if (leaf.html) {
      const html = leaf.html.text();
      this.htmls.push(html);
      this.htmlChars += html.length;
      if (leaf.html.truncated) this.htmlTruncated = true;
    } else if (leaf.attachment) {
      const { size, sha256 } = leaf.attachment.digest();
      const attachment: EmailAttachment = { contentType: leaf.info.contentType, size, sha256 };
      if (leaf.info.filename !== undefined) attachment.filename = leaf.info.filename.slice(0, 1024);
      if (this.attachments.length < this.options.maxParts) this.attachments.push(attachment);
    }
  }

  /**
   * Reads body bytes from `pos`: those of the open leaf, or a multipart's preamble or epilogue
   * (dropped), looking for the delimiter lines of the open multiparts. The line break before a
   * delimiter belongs to the delimiter (RFC 2046 5.1.1), so a chunk that ends in a line break,
   * or in a line that may be a delimiter, keeps that tail for the next chunk.
   */
  private body(buf: Buffer, pos: number, final: boolean): number {
    const len = buf.length;
    if (this.stack.length === 0) {
      this.emit(buf.subarray(pos));
      this.lineStart = false;
      return len;
    }
    const runStart = pos;
    let lineAt = this.lineStart ? pos : -1;
    let searchFrom = pos;
    for (;;) {
      if (lineAt < 0) {
        const candidate = buf.indexOf(NL_DASH, searchFrom);
        if (candidate < 0) break;
        lineAt = candidate + 1;
      }
      if (buf[lineAt] === DASH) {
        let nl = buf.indexOf(LF, lineAt);
        let next = nl + 1;
        if (nl < 0) {
          if (!final) break;
          nl = len;
          next = len;
        }
        const match = this.matchDelimiter(buf, lineAt, nl);
        if (match) {
          this.emit(buf.subarray(runStart, this.lineBreakBefore(buf, lineAt, runStart)));
          this.onDelimiter(match.depth, match.close);
          this.lineStart = true;
          return next;
        }
      }
      searchFrom = lineAt;
      lineAt = -1;
    }
    if (final) {
      this.emit(buf.subarray(runStart));
      return len;
    }
    const keepFrom = this.tailStart(buf, runStart);
    this.emit(buf.subarray(runStart, keepFrom));
    // What is kept starts a line only when it is the whole run, kept from a line start.
    this.lineStart = keepFrom === runStart && this.lineStart;
    if (keepFrom < len) this.carry = buf.subarray(keepFrom);
    return len;
  }

  /** Where the line break before the line at `lineAt` starts (`lineAt` at a body's start: none). */
  private lineBreakBefore(buf: Buffer, lineAt: number, runStart: number): number {
    if (lineAt === runStart) return runStart;
    return lineAt - 2 >= runStart && buf[lineAt - 2] === CR ? lineAt - 2 : lineAt - 1;
  }

  /**
   * Where the tail of `buf` that must wait for the next chunk starts: its last line break when
   * nothing follows it or what follows may be a delimiter line, a lone CR at the end, else none.
   */
  private tailStart(buf: Buffer, runStart: number): number {
    const len = buf.length;
    const lastNl = buf.lastIndexOf(LF, len - 1);
    if (lastNl < runStart) {
      if (this.lineStart && buf[runStart] === DASH && len - runStart <= DELIMITER_LINE_MAX) return runStart;
      return buf[len - 1] === CR ? len - 1 : len;
    }
    const partial = len - lastNl - 1;
    const lineBreak = lastNl > runStart && buf[lastNl - 1] === CR ? lastNl - 1 : lastNl;
    if (partial === 0 || (buf[lastNl + 1] === DASH && partial <= DELIMITER_LINE_MAX)) return lineBreak;
    return buf[len - 1] === CR ? len - 1 : len;
  }

  /** The open multipart whose delimiter the line is, innermost first, and whether it closes it. */
  private matchDelimiter(
    buf: Buffer,
    start: number,
    nl: number,
  ): { depth: number; close: boolean } | undefined {
    let end = nl;
    while (end > start && (buf[end - 1] === CR || buf[end - 1] === SPACE || buf[end - 1] === TAB)) end--;
    const length = end - start;
    for (let depth = this.stack.length - 1; depth >= 0; depth--) {
      const delimiter = (this.stack[depth] as Multipart).delimiter;
      if (length !== delimiter.length && length !== delimiter.length + 2) continue;
      if (buf.compare(delimiter, 0, delimiter.length, start, start + delimiter.length) !== 0) continue;
      if (length === delimiter.length) return { depth, close: false };
      if (buf[end - 2] === DASH && buf[end - 1] === DASH) return { depth, close: true };
    }
    return undefined;
  }

  private onDelimiter(depth: number, close: boolean): void {
    this.finishLeaf();
    while (this.stack.length - 1 > depth) {
      const inner = this.stack.pop() as Multipart;
      this.warnings.add(
        MAIL_WARNING_CODES.unterminatedMultipart,
        `${inner.info.contentType} never closes (an outer boundary comes first)`,
        inner.info.id || undefined,
      );
    }
    if (close) {
      this.stack.pop();
      return;
    }
    this.headers = new HeaderBlock(PART_FIELDS, false, this.options.maxHeaderBytes);
    this.headersOf = this.stack[depth];
    this.state = 'headers';
  }

  /** The IMAP number of the multipart's next child; `take` counts it. */
  private nextChildId(parent: Multipart, take: boolean): string {
    const n = parent.children + 1;
    if (take) parent.children = n;
    return parent.info.id === '' ? String(n) : `${parent.info.id}.${n}`;
  }

  private emit(bytes: Buffer): void {
    if (this.leaf && bytes.length > 0) this.emitTo(this.leaf, this.leaf.decoder.write(bytes));
  }

  private emitTo(leaf: Leaf, decoded: Buffer): void {
    if (decoded.length === 0) return;
    if (leaf.text) leaf.text.write(decoded);
    else if (leaf.html) leaf.html.write(decoded);
    else leaf.attachment?.write(decoded);
  }
}
