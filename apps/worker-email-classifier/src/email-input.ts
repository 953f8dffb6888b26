import type { ClassifyEmailInput } from '@crank/capabilities';
import { parseMessage } from '@crank/mail';
import { CapabilityError } from '@crank/worker-runtime';
import { partsOfFields, partsOfParsed, type EmailParts } from './email-features.js';

/**
 * Text kept of each body. A spam's tell is in its first screens; the features read fewer words
 * than this anyway, and a message of any size costs the same.
 */
const BODY_CHARS_MAX = 256 * 1024;

/**
 * The parts of a whole RFC 5322 message, parsed by `@crank/mail`.
 *
 * @throws CapabilityError INVALID_INPUT when the bytes start with no header field
 */
export function partsOfRaw(raw: Uint8Array): EmailParts {
  const parsed = parseMessage(raw, {
    maxTextChars: BODY_CHARS_MAX,
    maxHtmlChars: BODY_CHARS_MAX,
    keepHeaders: true,
  });
  if (!parsed.hasHeader) {
    throw new CapabilityError(
      'INVALID_INPUT',
      'raw: is not an RFC 5322 message (it starts with no header field)',
    );
  }
  return partsOfParsed(parsed);
}

/**
 * The parts of a `classify.email` input: `message/rfc822` bytes, `{ raw }` or
 * `{ subject, from, body }` (already checked against the capability's schema).
 *
 * @throws CapabilityError INVALID_INPUT when a whole message is no message
 */
export function partsOfInput(input: ClassifyEmailInput | Buffer): EmailParts {
  if (Buffer.isBuffer(input)) return partsOfRaw(input);
  if ('raw' in input) return partsOfRaw(Buffer.from(input.raw, input.encoding ?? 'utf8'));
  return partsOfFields(input);
}
