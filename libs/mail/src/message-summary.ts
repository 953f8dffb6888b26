import type { EmailAttachment, EmailSummaryFields } from '@crank/capabilities';
import type { HeaderBlock } from './header-block.js';
import { htmlToText } from './html-text.js';
import { MAIL_WARNING_CODES, quote, type MailWarnings } from './mail-warnings.js';
import { HEADER_MAX, parseAddresses, parseMailDate, parseMessageId } from './message-fields.js';

/** What a {@link MessageParser} read of one message. */
export interface ParsedMessage extends EmailSummaryFields {
  /** Every header by lower-case name, repeated ones joined with "\n"; with `keepHeaders` only. */
  headers?: Record<string, string>;
  /**
   * The text/plain parts joined with "\n" (or, without any, the text of the HTML parts), line
   * breaks as "\n", up to the parser's `maxTextChars`; absent when the message has no text.
   */
  text?: string;
  /** Whether text was left out past `maxTextChars` (or `maxHtmlChars` for text made from HTML). */
  textTruncated: boolean;
  /** The text/html parts joined with "\n", up to `maxHtmlChars`; absent when there are none. */
  html?: string;
  htmlTruncated: boolean;
  /**
   * False when the bytes do not start with a header field: no message at all (in an mbox, the
   * caller reports such a segment as garbage).
   */
  hasHeader: boolean;
  /** Bytes read. */
  bytes: number;
}

/** Most header names one summary lists (the output schema's bound). */
const HEADER_NAMES_MAX = 1000;
/** Longest subject reported, in characters. */
const SUBJECT_MAX = HEADER_MAX * 4;

/** What the parser hands over to be summarized. */
export interface SummaryInput {
  root: HeaderBlock;
  warnings: MailWarnings;
  keepHeaders: boolean;
  hasHeader: boolean;
  bytes: number;
  texts: string[];
  htmls: string[];
  textTruncated: boolean;
  htmlTruncated: boolean;
  attachments: EmailAttachment[];
  maxTextChars: number;
}

/** Builds the summary of a parsed message: the header fields read and the bodies kept. */
export function summarizeMessage(input: SummaryInput): ParsedMessage {
  const { root, warnings } = input;
  const parsed: ParsedMessage = {
    to: addressList(root, 'to', warnings),
    cc: addressList(root, 'cc', warnings),
    attachments: input.attachments,
    warnings: warnings.list,
    textTruncated: input.textTruncated,
    htmlTruncated: input.htmlTruncated,
    hasHeader: input.hasHeader && root.count > 0,
    bytes: input.bytes,
  };
  const fromRaw = root.getRaw('from');
  if (fromRaw !== undefined) {
    const [from] = addressesOf(fromRaw, 'From', warnings);
    if (from) parsed.from = from;
  }
  const subject = root.get('subject');
  if (subject !== undefined) {
    if (subject.length > SUBJECT_MAX) {
      warnings.add(
        MAIL_WARNING_CODES.headerTruncated,
        `Subject is longer than ${SUBJECT_MAX} characters; cut`,
      );
    }
    parsed.subject = subject.slice(0, SUBJECT_MAX);
  }
  const dateValue = root.get('date');
  if (dateValue !== undefined) {
    const date = parseMailDate(dateValue);
    if (date) parsed.date = date;
    else warnings.add(MAIL_WARNING_CODES.badDate, `Date ${quote(dateValue)} does not parse`);
  }
  const messageId = root.get('message-id');
  const id = messageId === undefined ? undefined : parseMessageId(messageId);
  if (id) parsed.messageId = id;
  if (input.keepHeaders) parsed.headers = headerRecord(root);
  const text = input.texts.join('\n');
  const html = input.htmls.join('\n');
  if (html !== '') parsed.html = html;
  if (text !== '') {
    parsed.text = text;
  } else if (html !== '') {
    const fromHtml = htmlToText(html);
    if (fromHtml !== '') parsed.text = fromHtml.slice(0, input.maxTextChars);
    parsed.textTruncated = input.htmlTruncated || fromHtml.length > input.maxTextChars;
  }
  // Decoding flags are known once every field above has been read.
  if (root.latin1) warnings.add(MAIL_WARNING_CODES.headerEncoding, 'headers are not UTF-8; read as Latin-1');
  if (root.unknownCharset) {
    warnings.add(
      MAIL_WARNING_CODES.unknownCharset,
      `an encoded word names charset ${quote(root.unknownCharset)}, which is unknown; read as UTF-8`,
    );
  }
  if (root.tooLarge)
    warnings.add(MAIL_WARNING_CODES.headerTooLarge, 'the header block is too large; the rest was skipped');
  if (root.truncated) warnings.add(MAIL_WARNING_CODES.headerTruncated, 'a header value is too long; cut');
  return parsed;
}

function addressList(root: HeaderBlock, name: 'to' | 'cc', warnings: MailWarnings): ParsedMessage['to'] {
  const raw = root.getRaw(name);
  return raw === undefined ? [] : addressesOf(raw, name === 'to' ? 'To' : 'Cc', warnings);
}

function addressesOf(raw: string, header: string, warnings: MailWarnings): ParsedMessage['to'] {
  const addresses = parseAddresses(raw);
  // An empty group (`undisclosed-recipients:;`) is no error; text with an @ and no address is.
  if (addresses.length === 0 && (header === 'From' ? raw.trim() !== '' : raw.includes('@'))) {
    warnings.add(MAIL_WARNING_CODES.badAddress, `${header} ${quote(raw)} has no usable address`);
  }
  return addresses;
}

function headerRecord(root: HeaderBlock): Record<string, string> {
  const record: Record<string, string> = Object.create(null) as Record<string, string>;
  let names = 0;
  for (const [name, value] of root.entries()) {
    const seen = record[name];
    if (seen !== undefined) {
      record[name] = `${seen}\n${value}`;
    } else if (names < HEADER_NAMES_MAX) {
      record[name] = value;
      names++;
    }
  }
  return { ...record };
}
