import { extractText, getDocumentProxy, getMeta } from 'unpdf';
import type { ConversionMetadata, Converted } from '../conversion.js';
import { invalidFile } from './invalid-file.js';

/** pdf.js's verbosity for errors only: its warnings about damaged files would go to stdout. */
const ERRORS_ONLY = 0;

/** PDF document information fields, and where each goes in the output's metadata. */
const INFO_FIELDS = {
  Title: 'title',
  Author: 'author',
  Subject: 'subject',
  Keywords: 'keywords',
  Creator: 'creator',
  Producer: 'producer',
} as const;

/**
 * The text of a PDF (pdf.js through unpdf), pages separated by a form feed (`\f`), with its page
 * count and document information. A PDF without a text layer (scanned pages) gives no text and a
 * warning.
 *
 * @throws ConversionError INVALID_INPUT for a corrupt, truncated or password-protected PDF
 */
export async function pdfToText(bytes: Uint8Array): Promise<Converted> {
  try {
    // pdf.js takes the buffer over (it detaches it), hence the copy.
    const pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: ERRORS_ONLY });
    try {
      const { totalPages, text } = await extractText(pdf, { mergePages: false });
      const { info } = await getMeta(pdf, { parseDates: true });
      const joined = text.map((page) => page.trimEnd()).join('\n\f');
      const warnings =
        joined.trim() === '' ? ['the PDF has no text layer (scanned pages?); no text extracted'] : [];
      return {
        output: joined === '' ? '' : `${joined}\n`,
        metadata: { pages: totalPages, ...documentInfo(info) },
        warnings,
      };
    } finally {
      await pdf.loadingTask.destroy();
    }
  } catch (error) {
    throw invalidFile('pdf', error);
  }
}

function documentInfo(info: Record<string, unknown>): ConversionMetadata {
  const metadata: ConversionMetadata = {};
  for (const [field, key] of Object.entries(INFO_FIELDS)) {
    const value = info[field];
    if (typeof value === 'string' && value.trim() !== '') metadata[key] = value.trim().slice(0, 4096);
  }
  const created = isoDate(info['CreationDate']);
  const modified = isoDate(info['ModDate']);
  if (created) metadata.createdAt = created;
  if (modified) metadata.modifiedAt = modified;
  return metadata;
}

function isoDate(value: unknown): string | undefined {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : undefined;
}
