import { TextDecoder } from 'node:util';
/**
 * Charset decoding through the platform's `TextDecoder` (WHATWG Encoding labels: every charset
 * mail uses in practice but UTF-7). One decoder per label is kept for whole-buffer decoding;
 * streams get their own.
 */

const decoders = new Map<string, TextDecoder | null>();
/** Most labels remembered: labels come from the mail, and a hostile mailbox can invent many. */
const DECODERS_MAX = 256;

/**
 * The label as `TextDecoder` knows it: lower case, RFC 2231 language suffix (`*en`) dropped,
 * and a few spellings mail uses that WHATWG does not (`utf8` is known, `utf_8` is not).
 */
export function normalizeCharset(label: string): string {
  const bare = label.trim().toLowerCase().replace(/\*.*$/, '');
  if (bare === 'utf_8' || bare === 'utf-8-sig') return 'utf-8';
  if (bare === 'ascii' || bare === 'us_ascii' || bare === 'ansi_x3.4-1968') return 'us-ascii';
  return bare;
}

/** A shared decoder for `label`, or undefined when the platform does not know the charset. */
export function decoderFor(label: string): TextDecoder | undefined {
  const key = normalizeCharset(label);
  let decoder = decoders.get(key);
  if (decoder === undefined) {
    decoder = createDecoder(key) ?? null;
    if (decoders.size >= DECODERS_MAX) decoders.clear();
    decoders.set(key, decoder);
  }
  return decoder ?? undefined;
}

/** A new decoder for `label` (for a stream: it keeps state between calls), or undefined. */
export function createDecoder(label: string): TextDecoder | undefined {
  try {
    return new TextDecoder(normalizeCharset(label));
  } catch {
    return undefined;
  }
}

const UTF8_FATAL = new TextDecoder('utf-8', { fatal: true });

/**
 * Header bytes as text: UTF-8 (RFC 6532), or Latin-1 when they are not valid UTF-8 (old mailers
 * writing 8-bit headers in their own charset); `latin1` says which.
 */
export function decodeHeaderBytes(bytes: Uint8Array): { text: string; latin1: boolean } {
  // ASCII is both; the common case pays one scan and no decoder.
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if ((bytes[i] as number) >= 0x80) {
      ascii = false;
      break;
    }
  }
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (ascii) return { text: buffer.toString('latin1'), latin1: false };
  try {
    return { text: UTF8_FATAL.decode(bytes), latin1: false };
  } catch {
    return { text: buffer.toString('latin1'), latin1: true };
  }
}
