/**
 * Mail parsing for Crank workers: a streaming mbox splitter and a bounded-memory RFC 5322 / MIME
 * parser that keeps a summary (addresses, subject, date, text up to a limit, attachment sizes and
 * SHA-256, warnings for what is malformed), never the message.
 *
 * @example
 * ```ts
 * import { parseMessage, summarizeMbox } from '@crank/mail';
 *
 * const message = parseMessage(await readFile('note.eml'), { maxTextChars: 10_000 });
 * console.log(message.subject, message.from?.address, message.attachments, message.warnings);
 *
 * for await (const record of summarizeMbox(createReadStream('big.mbox'), { previewChars: 200 })) {
 *   if (record.type === 'message') console.log(record.index, record.subject);
 *   if (record.type === 'totals') console.log(record.totals.messages, record.totals.topSenderDomains);
 * }
 * ```
 */
export { htmlToText } from './html-text.js';
export { MailboxTotals } from './mailbox-totals.js';
export { MAIL_WARNING_CODES, type MailWarningCode } from './mail-warnings.js';
export { MboxSplitter, splitMbox, type MboxEvent } from './mbox-splitter.js';
export {
  compileMessageParserOptions,
  MessageParser,
  type CompiledMessageParserOptions,
  type MessageParserOptions,
} from './message-parser.js';
export type { ParsedMessage } from './message-summary.js';
export { parseMessage } from './parse-message.js';
export { summarizeMbox } from './summarize-mbox.js';
