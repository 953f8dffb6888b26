import type { TextDecoder } from 'node:util';
import { decoderFor } from './charsets.js';
import { decodeEncodedWords } from './encoded-words.js';

/** A header with parameters (`Content-Type`, `Content-Disposition`), read. */
export interface StructuredHeader {
  /** The value before the first `;`, lower case, e.g. `text/plain` or `attachment`. */
  value: string;
  /** Parameters by lower-case name, decoded (quoted strings, RFC 2231, RFC 2047 in quotes). */
  params: Map<string, string>;
}

/** Most parameters read from one header; a hostile one may carry thousands. */
const PARAMS_MAX = 64;

/**
 * Reads `value; name=token; name="quoted"; name*=charset'lang'%XX; name*0*=...; name*1=...`.
 * RFC 2231 continuations are joined in order and percent-decoded in their charset; an RFC 2047
 * encoded word inside a value (which RFC 2047 forbids, but mailers write for file names) is
 * decoded too. Lenient: a parameter that does not parse is skipped.
 */
export function parseStructuredHeader(raw: string): StructuredHeader {
  const parts = splitParams(raw);
  const value = (parts.shift() ?? '').trim().toLowerCase();
  const simple = new Map<string, string>();
  // RFC 2231 sections by name: index -> [text, whether percent-encoded].
  const sections = new Map<string, Map<number, [string, boolean]>>();
  for (const part of parts.slice(0, PARAMS_MAX)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    const text = unquote(part.slice(eq + 1).trim());
    const rfc2231 = /^([^*]+)\*(?:(\d{1,3})\*?)?$/.exec(key);
    if (rfc2231) {
      const name = rfc2231[1] as string;
      const index = rfc2231[2] === undefined ? 0 : Number(rfc2231[2]);
      const encoded = key.endsWith('*');
      let byIndex = sections.get(name);
      if (!byIndex) sections.set(name, (byIndex = new Map()));
      byIndex.set(index, [text, encoded]);
    } else if (!simple.has(key)) {
      simple.set(key, text);
    }
  }
  const params = new Map<string, string>();
  for (const [name, text] of simple) params.set(name, decodeEncodedWords(text).text);
  for (const [name, byIndex] of sections) params.set(name, joinSections(byIndex));
  return { value, params };
}

/** Splits on `;` outside quoted strings. */
function splitParams(raw: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x5c && quoted) i++;
    else if (c === 0x22) quoted = !quoted;
    else if (c === 0x3b && !quoted) {
      parts.push(raw.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(raw.slice(start));
  return parts;
}

function unquote(text: string): string {
  if (text.length < 2 || !text.startsWith('"')) return text;
  const end = text.endsWith('"') ? text.length - 1 : text.length;
  return text.slice(1, end).replace(/\\(.)/g, '$1');
}

/**
 * Joins RFC 2231 sections 0, 1, 2, ... (stopping at the first gap). The first encoded section
 * names the charset (`utf-8'en'caf%C3%A9`); percent-encoded sections are decoded as bytes in it.
 */
function joinSections(byIndex: Map<number, [string, boolean]>): string {
  let charset = 'utf-8';
  const bytes: Buffer[] = [];
  for (let index = 0; byIndex.has(index); index++) {
    const [section, encoded] = byIndex.get(index) as [string, boolean];
    let text = section;
    if (encoded && index === 0) {
      const match = /^([^']*)'[^']*'(.*)$/s.exec(text);
      if (match) {
        charset = match[1] || charset;
        text = match[2] as string;
      }
    }
    bytes.push(encoded ? percentDecode(text) : Buffer.from(text, 'utf8'));
  }
  const decoder = decoderFor(charset) ?? decoderFor('utf-8');
  return (decoder as TextDecoder).decode(Buffer.concat(bytes));
}

/** `%XX` as bytes; other characters as their UTF-8 (a mailer may leave raw UTF-8 in a value). */
function percentDecode(text: string): Buffer {
  if (!text.includes('%')) return Buffer.from(text, 'utf8');
  const bytes: Buffer[] = [];
  for (const piece of text.split(/(%[0-9A-Fa-f]{2})/)) {
    if (piece.length === 3 && piece.startsWith('%') && /^%[0-9A-Fa-f]{2}$/.test(piece)) {
      bytes.push(Buffer.of(parseInt(piece.slice(1), 16)));
    } else if (piece !== '') {
      bytes.push(Buffer.from(piece, 'utf8'));
    }
  }
  return Buffer.concat(bytes);
}
