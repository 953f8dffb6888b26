import { CapabilityError } from '@crank/worker-runtime';
import { isTextFormat, type SourceFormat } from './formats.js';

/** What a file's bytes say it is: a format read here, a ZIP that is no Word document, or nothing known. */
export type SniffedFormat = SourceFormat | 'zip' | 'unknown';

/** How much of a file the text check decodes: enough to tell text from binary. */
const TEXT_PROBE_BYTES = 64 * 1024;
const HTML_START =
  /^<(?:!doctype\s+html|html|head|body|!--|p|div|h[1-6]|table|ul|ol|span|a|article|section)[\s>]/i;

/**
 * The format of a file from its magic bytes. Text formats cannot be told apart by bytes: UTF-8
 * text reads as `html` when it opens with an HTML tag, `json` with `{` or `[`, else `text`
 * (Markdown and CSV are text that only the caller can name).
 */
export function sniffFormat(bytes: Uint8Array): SniffedFormat {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.subarray(0, 1024).includes('%PDF-')) return 'pdf';
  if (startsWith(buffer, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(buffer, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (ascii(buffer, 0, 4) === 'RIFF' && ascii(buffer, 8, 12) === 'WEBP') return 'webp';
  if (ascii(buffer, 4, 8) === 'ftyp' && isAvifBrand(buffer)) return 'avif';
  if (startsWith(buffer, [0x49, 0x49, 0x2a, 0x00]) || startsWith(buffer, [0x4d, 0x4d, 0x00, 0x2a]))
    return 'tiff';
  // A DOCX is a ZIP whose entries include word/document.xml; its name is in the entry's header.
  if (startsWith(buffer, [0x50, 0x4b, 0x03, 0x04]))
    return buffer.includes('word/document.xml') ? 'docx' : 'zip';
  return sniffText(buffer);
}

/**
 * The format to convert from: the declared one, checked against the bytes, or the sniffed one.
 *
 * @param declaredBy - where the declaration came from, for messages (`from`, `content-type image/png`)
 * @param trustText - the caller named a charset other than UTF-8, so the bytes need not be UTF-8
 * @throws CapabilityError UNSUPPORTED_FORMAT when the bytes are another known format than declared
 *   (naming both), or when nothing was declared and the bytes say nothing known; INVALID_INPUT
 *   when they are no file of the declared format at all
 */
export function resolveSourceFormat(
  declared: SourceFormat | undefined,
  sniffed: SniffedFormat,
  declaredBy: string,
  trustText = false,
): SourceFormat {
  if (declared === undefined) {
    if (sniffed === 'zip') {
      throw new CapabilityError(
        'UNSUPPORTED_FORMAT',
        'content: a ZIP archive that is not a Word document (.docx)',
      );
    }
    if (sniffed === 'unknown') {
      throw new CapabilityError(
        'UNSUPPORTED_FORMAT',
        'content: the format cannot be told from the bytes; name it (from, or the content type)',
      );
    }
    return sniffed;
  }
  if (sniffed === declared) return declared;
  const textSniffed = sniffed === 'html' || sniffed === 'json' || sniffed === 'text';
  if (isTextFormat(declared) && (textSniffed || (trustText && sniffed === 'unknown'))) return declared;
  if (sniffed === 'unknown') {
    throw new CapabilityError(
      'INVALID_INPUT',
      isTextFormat(declared)
        ? `content: is not UTF-8 text, so not ${declared} (${declaredBy})`
        : `content: is not a ${declared} file (${declaredBy}): its first bytes are no ${declared} signature`,
      { declared },
    );
  }
  if (sniffed === 'zip' && declared === 'docx') {
    throw new CapabilityError(
      'INVALID_INPUT',
      'content: is a ZIP archive without word/document.xml, not a Word document',
      { declared },
    );
  }
  const described = textSniffed ? 'text' : sniffed === 'zip' ? 'a ZIP archive' : sniffed;
  throw new CapabilityError(
    'UNSUPPORTED_FORMAT',
    `content: declared ${declared} (${declaredBy}) but the bytes are ${described}`,
    { declared, sniffed },
  );
}

function sniffText(buffer: Buffer): SniffedFormat {
  const probe = buffer.subarray(0, TEXT_PROBE_BYTES);
  if (probe.includes(0)) return 'unknown';
  let text: string;
  try {
    // stream: a character cut in two at the end of the probe is not an error.
    text = new TextDecoder('utf-8', { fatal: true }).decode(probe, { stream: true });
  } catch {
    return 'unknown';
  }
  const start = text.trimStart();
  if (HTML_START.test(start)) return 'html';
  if (start.startsWith('{') || start.startsWith('[')) return 'json';
  return 'text';
}

function isAvifBrand(buffer: Buffer): boolean {
  // The major brand, then the compatible brands, up to the end of the ftyp box.
  const boxEnd = Math.min(buffer.readUInt32BE(0), buffer.length, 64);
  for (let at = 8; at + 4 <= boxEnd; at += 4) {
    const brand = ascii(buffer, at, at + 4);
    if (brand === 'avif' || brand === 'avis') return true;
  }
  return false;
}

function startsWith(buffer: Buffer, signature: readonly number[]): boolean {
  return buffer.length >= signature.length && signature.every((byte, i) => buffer[i] === byte);
}

function ascii(buffer: Buffer, from: number, to: number): string {
  return buffer.length >= to ? buffer.toString('latin1', from, to) : '';
}
