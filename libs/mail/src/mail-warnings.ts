import { WARNINGS_MAX, type EmailWarning } from '@crank/capabilities';

/**
 * The codes of {@link EmailWarning}s this library reports. Each says what was malformed; the
 * message was read anyway, as the note says.
 */
export const MAIL_WARNING_CODES = {
  /** A header line without a colon or with a bad name: skipped (or, in a part, ends its headers). */
  headerSyntax: 'header-syntax',
  /** A header block larger than the limit: the rest of it is skipped. */
  headerTooLarge: 'header-too-large',
  /** Header bytes that are not UTF-8 (read as Latin-1), or an encoded word that does not decode. */
  headerEncoding: 'header-encoding',
  /** A header value longer than the summary keeps: cut. */
  headerTruncated: 'header-truncated',
  /** A `Date` that does not parse: no `date`. */
  badDate: 'bad-date',
  /** An address header with no usable address in it. */
  badAddress: 'bad-address',
  /** A `Content-Type` that is no `type/subtype`: read as text/plain (RFC 2045). */
  badContentType: 'bad-content-type',
  /** A multipart without a boundary: read as one text/plain part. */
  missingBoundary: 'missing-boundary',
  /** A multipart whose closing boundary never came (the message ended, or an outer boundary came). */
  unterminatedMultipart: 'unterminated-multipart',
  /** Characters that are not base64 in a base64 part, or a length that is not a multiple of 4. */
  badBase64: 'bad-base64',
  /** `=` not followed by two hex digits in a quoted-printable part: kept as written. */
  badQuotedPrintable: 'bad-quoted-printable',
  /** A `Content-Transfer-Encoding` this parser does not know: the bytes are read as they are. */
  unknownTransferEncoding: 'unknown-transfer-encoding',
  /** A charset the platform cannot decode: read as UTF-8. */
  unknownCharset: 'unknown-charset',
  /** More parts than the limit, or multiparts nested deeper: the rest is counted, not parsed. */
  tooManyParts: 'too-many-parts',
  /** The message ended inside its header block (no blank line after the headers). */
  truncatedHeaders: 'truncated-headers',
  /** More warnings than a summary carries: the others are dropped. */
  tooManyWarnings: 'too-many-warnings',
} as const;

/** One of {@link MAIL_WARNING_CODES}. */
export type MailWarningCode = (typeof MAIL_WARNING_CODES)[keyof typeof MAIL_WARNING_CODES];

/** Longest warning message kept; caller text in it is cut well before. */
const MESSAGE_MAX = 1000;

/**
 * The warnings of one message, bounded: past {@link WARNINGS_MAX} - 1 one last
 * `too-many-warnings` is added and the rest are dropped. The same code for the same part is kept
 * once, so that a broken part of a million lines costs one warning.
 */
export class MailWarnings {
  readonly list: EmailWarning[] = [];
  // `code part` of each warning kept.
  private readonly seen = new Set<string>();

  add(code: MailWarningCode, message: string, part?: string): void {
    const key = `${code} ${part ?? ''}`;
    if (this.seen.has(key) || this.list.length >= WARNINGS_MAX) return;
    this.seen.add(key);
    if (this.list.length === WARNINGS_MAX - 1) {
      this.list.push({
        code: MAIL_WARNING_CODES.tooManyWarnings,
        message: `more than ${WARNINGS_MAX - 1} warnings; the others are not listed`,
      });
      return;
    }
    const warning: EmailWarning = { code, message: message.slice(0, MESSAGE_MAX) };
    if (part !== undefined) warning.part = part;
    this.list.push(warning);
  }
}

/** `text` cut to `max` characters, with `...` when it was longer: for caller text in messages. */
export function quote(text: string, max = 60): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}...` : text);
}
