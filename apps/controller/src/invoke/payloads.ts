import { CrankError, isJsonMediaType, type Capability } from '@crank/capabilities';
import { Payload } from '@crank/proto';

export const JSON_CONTENT_TYPE = 'application/json';

/** Deepest nesting of arrays and objects taken in a JSON payload. */
export const MAX_JSON_DEPTH = 256;

/** Whether a payload holds JSON (the default when no content type is given). */
export function isJson(contentType: string): boolean {
  return isJsonMediaType(contentType);
}

/**
 * Parses a JSON payload; INVALID_INPUT (naming `field`) when it is not JSON or nests deeper than
 * {@link MAX_JSON_DEPTH} (which would overflow the stack of whatever walks it next).
 */
export function parseJson(data: Uint8Array, field: string): unknown {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (nestingExceeds(bytes, MAX_JSON_DEPTH)) {
    throw new CrankError('INVALID_INPUT', `${field}: JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (error) {
    throw new CrankError('INVALID_INPUT', `${field}: is not valid JSON (${(error as Error).message})`);
  }
}

export function jsonPayload(value: unknown): Payload {
  return Payload.fromPartial({ contentType: JSON_CONTENT_TYPE, data: Buffer.from(JSON.stringify(value)) });
}

/**
 * Checks an input payload against the capability before it leaves: its media type must be one the
 * capability takes (UNSUPPORTED_FORMAT otherwise), and JSON must satisfy the input schema.
 */
export function checkInput(capability: Capability, payload: Payload | undefined): void {
  const contentType = payload?.contentType ?? '';
  if (!capability.acceptsMediaType(contentType)) throw unsupportedMediaType(capability, contentType);
  if (!payload || !isJson(contentType)) return;
  capability.assertInput(parseJson(payload.data, 'input'));
}

/** UNSUPPORTED_FORMAT naming the media type sent and the ones the capability takes. */
export function unsupportedMediaType(capability: Capability, contentType: string): CrankError {
  const accepted = [JSON_CONTENT_TYPE, ...capability.definition.inputMediaTypes];
  return new CrankError(
    'UNSUPPORTED_FORMAT',
    `content-type: ${capability.id} takes ${accepted.join(', ')} (got "${contentType.slice(0, 100)}")`,
    { details: { capability: capability.id, accepted } },
  );
}

/**
 * Whether JSON text nests arrays and objects deeper than `max`, by one pass over the bytes
 * (brackets inside strings do not count). Cheaper than any parse, and it never recurses: strings
 * are skipped with `indexOf`, so a payload that is mostly one long string costs next to nothing.
 */
export function nestingExceeds(bytes: Uint8Array, max: number): boolean {
  // Each level takes at least one byte.
  if (bytes.length <= max) return false;
  let depth = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === 0x22) {
      i = stringEnd(bytes, i);
      if (i < 0) return false; // unterminated: the parse will refuse it
    } else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) return true;
    } else if (b === 0x5d || b === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** The index of the quote that closes the string opened at `start`, or -1 when none does. */
function stringEnd(bytes: Uint8Array, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = bytes.indexOf(0x22, from);
    if (quote < 0) return -1;
    // Escaped when an odd number of backslashes precede it.
    let backslashes = 0;
    while (bytes[quote - 1 - backslashes] === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}
