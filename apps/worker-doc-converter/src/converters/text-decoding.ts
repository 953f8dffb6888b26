import { ConversionError } from '../conversion-error.js';

/**
 * The text of a text file in `charset` (a WHATWG encoding label; a UTF-8 byte order mark is
 * dropped).
 *
 * @throws ConversionError INVALID_INPUT when the bytes are not text in that charset
 */
export function decodeText(bytes: Uint8Array, charset: string, format: string): string {
  try {
    return new TextDecoder(charset, { fatal: true }).decode(bytes);
  } catch {
    throw new ConversionError('INVALID_INPUT', `content: is not ${charset} text, so not ${format}`, {
      format,
    });
  }
}
