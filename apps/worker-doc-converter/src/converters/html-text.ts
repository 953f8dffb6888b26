import { convert } from 'html-to-text';
import type { Converted } from '../conversion.js';

/**
 * HTML to plain text: block structure kept as line breaks, headings in capitals, lists with
 * bullets, tables laid out in columns, links followed by their address; images and scripts left
 * out. Lines are not wrapped.
 */
export function htmlToText(html: string): Converted {
  const text = convert(html, {
    wordwrap: false,
    // The default cuts input past 16 Mi characters; the worker's own size limit applies instead.
    limits: { maxInputLength: Number.MAX_SAFE_INTEGER, maxDepth: 1024 },
    selectors: [
      { selector: 'img', format: 'skip' },
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    ],
  });
  return { output: text.endsWith('\n') || text === '' ? text : `${text}\n` };
}
