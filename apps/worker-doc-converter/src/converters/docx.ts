import mammoth from 'mammoth';
import type { Converted } from '../conversion.js';
import { invalidFile } from './invalid-file.js';
import { htmlDocument } from './markdown-html.js';

/**
 * A Word document (.docx) to a complete HTML document (mammoth): headings, paragraphs, lists,
 * tables, links, and images inlined as data URIs. What mammoth could not map (unknown styles)
 * comes back as warnings.
 *
 * @throws ConversionError INVALID_INPUT for a corrupt or truncated file
 */
export async function docxToHtml(bytes: Buffer, title: string | undefined): Promise<Converted> {
  try {
    const result = await mammoth.convertToHtml({ buffer: bytes });
    return { output: htmlDocument(result.value, title), warnings: result.messages.map((m) => m.message) };
  } catch (error) {
    throw invalidFile('docx', error);
  }
}

/** The text of a Word document, one paragraph a line, with a blank line between paragraphs. */
export async function docxToText(bytes: Buffer): Promise<Converted> {
  try {
    const result = await mammoth.extractRawText({ buffer: bytes });
    return { output: result.value, warnings: result.messages.map((m) => m.message) };
  } catch (error) {
    throw invalidFile('docx', error);
  }
}
