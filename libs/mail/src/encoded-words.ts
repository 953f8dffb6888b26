import { TextDecoder } from 'node:util';
import { decoderFor, normalizeCharset } from './charsets.js';

/** An RFC 2047 encoded word: `=?charset?B|Q?text?=`. */
const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
const UTF8 = new TextDecoder('utf-8');

/** What {@link decodeEncodedWords} made of a header value. */
export interface DecodedWords {
  text: string;
  /** Set when a word named a charset the platform does not know (it was read as UTF-8). */
  unknownCharset?: string;
}

/**
 * Decodes the RFC 2047 encoded words of a header value. Whitespace between two encoded words is
 * dropped (RFC 2047 section 6.2), and consecutive words in one charset are decoded together, so
 * that a multi-byte character split over two words (as some mailers write them) comes out whole.
 * Text outside encoded words is kept as it is.
 */
export function decodeEncodedWords(value: string): DecodedWords {
  if (!value.includes('=?')) return { text: value };
  let text = '';
  let unknownCharset: string | undefined;
  let last = 0;
  // The run of consecutive words in one charset, decoded at once when it ends.
  let runCharset: string | undefined;
  let runBytes: Buffer[] = [];
  const flush = (): void => {
    if (runCharset === undefined) return;
    const bytes = runBytes.length === 1 ? (runBytes[0] as Buffer) : Buffer.concat(runBytes);
    const decoder = decoderFor(runCharset);
    if (!decoder) unknownCharset ??= runCharset;
    text += (decoder ?? UTF8).decode(bytes);
    runCharset = undefined;
    runBytes = [];
  };
  for (const match of value.matchAll(ENCODED_WORD)) {
    const between = value.slice(last, match.index);
    const adjacent = runCharset !== undefined && /^[ \t\r\n]*$/.test(between);
    const charset = normalizeCharset(match[1] as string);
    if (!adjacent) {
      flush();
      text += between;
    } else if (charset !== runCharset) {
      flush();
    }
    runCharset = charset;
    runBytes.push(decodeWord(match[2] as string, match[3] as string));
    last = match.index + match[0].length;
  }
  flush();
  text += value.slice(last);
  return unknownCharset === undefined ? { text } : { text, unknownCharset };
}

/** The bytes of one word's text: base64 (lenient, as mailers pad wrongly) or the Q encoding. */
function decodeWord(encoding: string, text: string): Buffer {
  if (encoding === 'B' || encoding === 'b') return Buffer.from(text, 'base64');
  const bytes = Buffer.allocUnsafe(text.length);
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5f) {
      bytes[length++] = 0x20; // "_" is a space
    } else if (c === 0x3d && i + 2 < text.length && isHex(text, i + 1) && isHex(text, i + 2)) {
      bytes[length++] = parseInt(text.slice(i + 1, i + 3), 16);
      i += 2;
    } else {
      bytes[length++] = c & 0xff;
    }
  }
  return bytes.subarray(0, length);
}

function isHex(text: string, at: number): boolean {
  const c = text.charCodeAt(at);
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
