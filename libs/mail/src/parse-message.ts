import { MessageParser, type MessageParserOptions } from './message-parser.js';
import type { ParsedMessage } from './message-summary.js';

/** Bytes of a message handed to the parser at once; the parser's work per call stays small. */
const SLICE_BYTES = 256 * 1024;

/**
 * Parses one whole message (RFC 5322, MIME included). A leading mbox `From ` line, as a message
 * saved from a mailbox has, is skipped. For a message of unknown size, stream it through a
 * {@link MessageParser} instead.
 */
export function parseMessage(raw: Uint8Array, options: MessageParserOptions = {}): ParsedMessage {
  let bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (bytes.subarray(0, 5).toString('latin1') === 'From ') {
    const nl = bytes.indexOf(0x0a);
    bytes = nl < 0 ? Buffer.alloc(0) : bytes.subarray(nl + 1);
  }
  const parser = new MessageParser(options);
  for (let at = 0; at < bytes.length; at += SLICE_BYTES) {
    parser.write(bytes.subarray(at, Math.min(bytes.length, at + SLICE_BYTES)));
  }
  return parser.end();
}
