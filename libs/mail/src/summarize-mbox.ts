import type {
  ParseMboxGarbageRecord,
  ParseMboxMessageRecord,
  ParseMboxOptions,
  ParseMboxRecord,
} from '@crank/capabilities';
import { MailboxTotals } from './mailbox-totals.js';
import { MboxSplitter, type MboxEvent } from './mbox-splitter.js';
import { MessageParser, type MessageParserOptions } from './message-parser.js';
import type { ParsedMessage } from './message-summary.js';

/** Default of {@link ParseMboxOptions.previewChars}. */
const PREVIEW_CHARS = 500;
/** HTML kept per message to make a preview of an HTML-only message. */
const PREVIEW_HTML_CHARS = 64 * 1024;

/**
 * Summarizes an mbox as its bytes stream in: a `message` record per message as soon as its last
 * byte has been read, a `garbage` record per run of bytes that is no message, and last a `totals`
 * record. Pulls the next chunk only when the records of the previous one have been taken, so a
 * slow reader slows the reading; memory is bounded whatever the size of the mbox or of one
 * message (see {@link MessageParser}). With `maxMessages`, stops reading after that many
 * messages (the totals then say `complete: false`).
 */
export async function* summarizeMbox(
  source: AsyncIterable<Uint8Array>,
  options: ParseMboxOptions = {},
): AsyncGenerator<ParseMboxRecord> {
  const previewChars = options.previewChars ?? PREVIEW_CHARS;
  const parserOptions: MessageParserOptions = {
    // Whitespace collapses in a preview: keep some more text than it shows.
    maxTextChars: previewChars === 0 ? 0 : previewChars * 4 + 256,
    maxHtmlChars: previewChars === 0 ? 0 : PREVIEW_HTML_CHARS,
    keepHeaders: options.includeHeaders ?? false,
  };
  const splitter = new MboxSplitter();
  const totals = new MailboxTotals();
  let parser: MessageParser | undefined;
  let offset = 0;
  let index = 0;
  let bytes = 0;

  /** The record an event completes, if any. */
  const recordOf = (event: MboxEvent): ParseMboxRecord | undefined => {
    switch (event.type) {
      case 'message':
        parser = new MessageParser(parserOptions);
        offset = event.offset;
        return undefined;
      case 'data':
        parser?.write(event.data);
        return undefined;
      case 'preamble':
        totals.addGarbage(event.size);
        return garbage(event.offset, event.size, 'preamble');
      case 'end': {
        const parsed = (parser as MessageParser).end();
        parser = undefined;
        if (!parsed.hasHeader) {
          totals.addGarbage(event.size);
          return garbage(offset, event.size, 'no-header');
        }
        const record = messageRecord(parsed, index++, offset, event.size, previewChars, options);
        totals.addMessage(record);
        return record;
      }
    }
  };

  const max = options.maxMessages ?? Number.POSITIVE_INFINITY;
  for await (const chunk of source) {
    bytes += chunk.byteLength;
    for (const event of splitter.write(chunk)) {
      const record = recordOf(event);
      if (!record) continue;
      yield record;
      if (index >= max) {
        yield { type: 'totals', totals: totals.totals(bytes, false) };
        return;
      }
    }
  }
  for (const event of splitter.end()) {
    const record = recordOf(event);
    if (record) yield record;
  }
  yield { type: 'totals', totals: totals.totals(bytes, true) };
}

function garbage(
  offset: number,
  size: number,
  reason: ParseMboxGarbageRecord['reason'],
): ParseMboxGarbageRecord {
  return { type: 'garbage', offset, size, reason };
}

function messageRecord(
  parsed: ParsedMessage,
  index: number,
  offset: number,
  size: number,
  previewChars: number,
  options: ParseMboxOptions,
): ParseMboxMessageRecord {
  const preview = previewChars > 0 && parsed.text !== undefined ? previewOf(parsed.text, previewChars) : '';
  return {
    type: 'message',
    index,
    offset,
    size,
    ...(parsed.messageId !== undefined ? { messageId: parsed.messageId } : {}),
    ...(parsed.from ? { from: parsed.from } : {}),
    to: parsed.to,
    cc: parsed.cc,
    ...(parsed.subject !== undefined ? { subject: parsed.subject } : {}),
    ...(parsed.date !== undefined ? { date: parsed.date } : {}),
    attachments: parsed.attachments,
    warnings: parsed.warnings,
    ...(preview !== '' ? { textPreview: preview } : {}),
    ...(options.includeHeaders && parsed.headers ? { headers: parsed.headers } : {}),
  };
}

/** The first `chars` characters of `text`, white space collapsed, no half surrogate pair at the end. */
function previewOf(text: string, chars: number): string {
  let preview = text
    .slice(0, chars * 4)
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, chars);
  const last = preview.charCodeAt(preview.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) preview = preview.slice(0, -1);
  return preview;
}
