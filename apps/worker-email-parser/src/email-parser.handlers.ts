import { Injectable } from '@nestjs/common';
import {
  PARSE_EMAIL,
  PARSE_EMAIL_MAX_BYTES,
  PARSE_MBOX,
  type ParseEmailInput,
  type ParseEmailOutput,
  type ParseMboxOptions,
  type ParseMboxRecord,
} from '@crank/capabilities';
import { parseMessage, summarizeMbox } from '@crank/mail';
import { CapabilityError } from '@crank/worker-runtime';
import { CapabilityHandler } from '@crank/worker-runtime/nest';
import { mboxInput } from './mbox-input.js';

/** `parse.email` and `parse.mbox`: the worker's business logic, on `@crank/mail`. */
@Injectable()
export class EmailParserHandlers {
  /** One message, as `{ raw }` JSON or as `message/rfc822` bytes, to its summary with bodies. */
  @CapabilityHandler(PARSE_EMAIL)
  parseEmail(input: ParseEmailInput | Buffer): ParseEmailOutput {
    const raw = Buffer.isBuffer(input) ? input : Buffer.from(input.raw, input.encoding ?? 'utf8');
    if (raw.length > PARSE_EMAIL_MAX_BYTES) {
      throw new CapabilityError(
        'PAYLOAD_TOO_LARGE',
        `message: ${raw.length} bytes is more than the ${PARSE_EMAIL_MAX_BYTES} parse.email takes; stream it through parse.mbox`,
      );
    }
    const parsed = parseMessage(raw, {
      maxTextChars: PARSE_EMAIL_MAX_BYTES,
      maxHtmlChars: PARSE_EMAIL_MAX_BYTES,
      keepHeaders: true,
    });
    if (!parsed.hasHeader) {
      throw new CapabilityError(
        'INVALID_INPUT',
        'raw: is not an RFC 5322 message (it starts with no header field)',
      );
    }
    return {
      ...(parsed.messageId !== undefined ? { messageId: parsed.messageId } : {}),
      ...(parsed.from ? { from: parsed.from } : {}),
      to: parsed.to,
      cc: parsed.cc,
      ...(parsed.subject !== undefined ? { subject: parsed.subject } : {}),
      ...(parsed.date !== undefined ? { date: parsed.date } : {}),
      attachments: parsed.attachments,
      warnings: parsed.warnings,
      ...(parsed.text !== undefined ? { textBody: parsed.text } : {}),
      ...(parsed.html !== undefined ? { htmlBody: parsed.html } : {}),
      headers: parsed.headers ?? {},
    };
  }

  /**
   * An mbox streamed in (after an optional options chunk) to a record per message as soon as it
   * is parsed, garbage records, and the totals. Pulling the input only as records are taken is
   * the back-pressure: a slow caller slows the reading, and nothing piles up here.
   */
  @CapabilityHandler(PARSE_MBOX)
  async *parseMbox(records: AsyncIterable<ParseMboxOptions | Buffer>): AsyncGenerator<ParseMboxRecord> {
    const { options, bytes } = await mboxInput(records);
    yield* summarizeMbox(bytes, options);
  }
}
