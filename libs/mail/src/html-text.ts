const ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  copy: '©',
  reg: '®',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  euro: '€',
};

/** Elements whose content is no text. */
const HIDDEN = new Set(['script', 'style', 'head', 'title']);
/** Elements that end a line. */
const BLOCKS = new Set([
  'br',
  'p',
  'div',
  'li',
  'tr',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'table',
  'blockquote',
]);

/**
 * The text of an HTML body, for a preview or for the text of an HTML-only message: no script,
 * style or head, tags dropped, block elements as line breaks, common entities decoded, blank runs
 * collapsed. Not a renderer: one pass over the input (hostile HTML included: no backtracking
 * pattern), and it never fails on broken HTML.
 */
export function htmlToText(html: string): string {
  const parts: string[] = [];
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      parts.push(html.slice(i));
      break;
    }
    parts.push(html.slice(i, lt));
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      i = end < 0 ? html.length : end + 3;
      parts.push(' ');
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) break; // a tag left open to the end: no text in it
    const closing = html[lt + 1] === '/';
    const name = /^[a-zA-Z][a-zA-Z0-9]*/.exec(html.slice(lt + (closing ? 2 : 1), Math.min(gt, lt + 20)))?.[0];
    const tag = name?.toLowerCase() ?? '';
    i = gt + 1;
    if (!closing && HIDDEN.has(tag)) {
      const close = new RegExp(`</${tag}`, 'gi');
      close.lastIndex = i;
      const found = close.exec(html);
      const end = found ? html.indexOf('>', found.index) : -1;
      i = end < 0 ? html.length : end + 1;
      parts.push(' ');
      continue;
    }
    parts.push(BLOCKS.has(tag) ? '\n' : ' ');
  }
  return parts
    .join('')
    .replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,8});/gi, (match, name: string) =>
      decodeEntity(match, name),
    )
    .replace(/[ \t\f\v\u00a0]+/g, ' ')
    .replace(/ ?\n[ \n]*/g, '\n')
    .trim();
}

function decodeEntity(match: string, name: string): string {
  if (name.startsWith('#')) {
    const hex = name[1] === 'x' || name[1] === 'X';
    const code = hex ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    const valid = code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
    return valid ? String.fromCodePoint(code) : match;
  }
  return ENTITIES[name.toLowerCase()] ?? match;
}
