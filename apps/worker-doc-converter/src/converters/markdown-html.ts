import { Marked, type Token } from 'marked';
import type { Converted } from '../conversion.js';

/**
 * Markdown (GitHub-flavoured) to a complete HTML5 document, titled `title` or else by the first
 * heading. Raw HTML inside the Markdown is kept, as Markdown allows it.
 */
export function markdownToHtml(markdown: string, title: string | undefined): Converted {
  const marked = new Marked({ gfm: true, async: false });
  const tokens = marked.lexer(markdown);
  const heading = tokens.find((token) => token.type === 'heading');
  const body = marked.parser(tokens);
  return { output: htmlDocument(body, title ?? (heading ? plainText([heading]) : undefined)) };
}

/** `body` (an HTML fragment) as a complete HTML5 document in UTF-8. */
export function htmlDocument(body: string, title: string | undefined): string {
  const head = title ? `<title>${escapeHtml(title)}</title>\n` : '';
  return `<!doctype html>\n<html>\n<head>\n<meta charset="utf-8">\n${head}</head>\n<body>\n${body}</body>\n</html>\n`;
}

/** The text of Markdown tokens with their markup left out. */
export function plainText(tokens: readonly Token[]): string {
  return tokens
    .map((token) => {
      if (token.type === 'br') return '\n';
      if (token.type === 'html') return '';
      if ('tokens' in token && Array.isArray(token.tokens) && token.tokens.length > 0)
        return plainText(token.tokens);
      return 'text' in token && typeof token.text === 'string' ? token.text : '';
    })
    .join('');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
