import { Marked, type Token, type Tokens } from 'marked';
import PDFDocument from 'pdfkit';
import type { ConvertOptions, Converted } from '../conversion.js';
import { htmlToText } from './html-text.js';
import { plainText } from './markdown-html.js';

/** Page margin in points (2 cm). */
const MARGIN = 56;
const BODY_SIZE = 11;
const CODE_SIZE = 9.5;
const HEADING_SIZES = [22, 18, 15, 13, 12, 11] as const;
const INDENT = 18;
/** Characters the standard PDF fonts draw besides Latin-1 (WinAnsiEncoding's extra 27). */
const WIN_ANSI_EXTRA = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ');

/** A span of inline text and how it is drawn. */
interface Run {
  text: string;
  bold?: boolean;
  italic?: boolean;
  code?: boolean;
  strike?: boolean;
  link?: string;
}

/** One PDF being written, and what it could not carry over. */
class PdfWriter {
  readonly doc: PDFKit.PDFDocument;
  pages = 1;
  private replaced = 0;
  private firstReplaced = '';
  private images = 0;

  constructor(options: ConvertOptions) {
    this.doc = new PDFDocument({
      size: options.pageSize ?? 'A4',
      margin: MARGIN,
      info: { Creator: 'Crank convert.document', ...(options.title ? { Title: options.title } : {}) },
    });
    this.doc.on('pageAdded', () => (this.pages += 1));
  }

  /** Ends the document and collects its bytes. */
  async finish(): Promise<Converted> {
    const chunks: Buffer[] = [];
    this.doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise<void>((resolve, reject) => {
      this.doc.once('end', resolve);
      this.doc.once('error', reject);
    });
    this.doc.end();
    await ended;
    const warnings: string[] = [];
    if (this.replaced > 0) {
      warnings.push(
        `${this.replaced} characters outside the standard PDF fonts' Latin set (first: "${this.firstReplaced}") were drawn as "?"`,
      );
    }
    if (this.images > 0)
      warnings.push(`${this.images} images are not embedded; their alt text is shown instead`);
    return { output: Buffer.concat(chunks), metadata: { pages: this.pages }, warnings };
  }

  /** `text` as the standard fonts can draw it: tabs as spaces, other characters as "?". */
  drawable(text: string): string {
    return text.replace(/[^\n\x20-\x7e\xa0-\xff]/gu, (char) => {
      if (char === '\t') return '    ';
      if (char === '\r') return '';
      if (WIN_ANSI_EXTRA.has(char)) return char;
      if (this.replaced++ === 0) this.firstReplaced = char;
      return '?';
    });
  }

  /** Draws runs of inline text as one paragraph, `indent` points in from the margin. */
  paragraph(runs: readonly Run[], indent: number, size = BODY_SIZE, bold = false): void {
    const drawn = runs.filter((run) => run.text !== '');
    if (drawn.length === 0) return;
    const { doc } = this;
    doc.x = MARGIN + indent;
    drawn.forEach((run, i) => {
      doc.font(fontOf(run, bold)).fontSize(run.code ? size * 0.9 : size);
      doc.fillColor(run.link ? '#1a4fa0' : 'black');
      doc.text(this.drawable(run.text), {
        continued: i < drawn.length - 1,
        paragraphGap: 4,
        ...(run.link ? { link: run.link, underline: true } : { underline: false }),
        strike: run.strike === true,
      });
    });
    doc.fillColor('black');
    doc.x = MARGIN;
  }

  /** Draws text line by line in one font, keeping its line breaks. */
  lines(text: string, indent: number, font: string, size: number): void {
    const { doc } = this;
    doc.x = MARGIN + indent;
    doc.font(font).fontSize(size).text(this.drawable(text), { paragraphGap: 4 });
    doc.x = MARGIN;
  }

  countImage(): void {
    this.images += 1;
  }
}

/**
 * Markdown to PDF: headings, paragraphs with bold, italic, code and links, lists, code blocks,
 * quotes, rules and tables, in the standard fonts. Titled `options.title` or the first heading.
 */
export async function markdownToPdf(markdown: string, options: ConvertOptions): Promise<Converted> {
  const tokens = new Marked({ gfm: true, async: false }).lexer(markdown);
  const heading = tokens.find((token) => token.type === 'heading');
  const writer = new PdfWriter({
    ...options,
    title: options.title ?? (heading ? plainText([heading]) : undefined),
  });
  drawBlocks(writer, tokens, 0);
  return writer.finish();
}

/** HTML to PDF: its text as `html -> text` lays it out (headings, lists, tables), in Helvetica. */
export async function htmlToPdf(html: string, options: ConvertOptions): Promise<Converted> {
  const writer = new PdfWriter(options);
  const images = html.match(/<img\b/gi)?.length ?? 0;
  for (let i = 0; i < images; i++) writer.countImage();
  writer.lines(String(htmlToText(html).output), 0, 'Helvetica', BODY_SIZE);
  return writer.finish();
}

/** Plain text to PDF in Courier, so that columns laid out with spaces stay aligned. */
export async function textToPdf(text: string, options: ConvertOptions): Promise<Converted> {
  const writer = new PdfWriter(options);
  writer.lines(text, 0, 'Courier', 10);
  return writer.finish();
}

function drawBlocks(writer: PdfWriter, tokens: readonly Token[], indent: number): void {
  for (const token of tokens) drawBlock(writer, token, indent);
}

function drawBlock(writer: PdfWriter, token: Token, indent: number): void {
  const { doc } = writer;
  switch (token.type) {
    case 'heading': {
      const { depth, tokens } = token as Tokens.Heading;
      doc.moveDown(0.3);
      writer.paragraph(runsOf(writer, tokens), indent, HEADING_SIZES[depth - 1] ?? BODY_SIZE, true);
      return;
    }
    case 'paragraph':
      writer.paragraph(runsOf(writer, (token as Tokens.Paragraph).tokens), indent);
      return;
    case 'text': {
      const text = token as Tokens.Text;
      writer.paragraph(runsOf(writer, text.tokens ?? [text]), indent);
      return;
    }
    case 'list': {
      const list = token as Tokens.List;
      const start = typeof list.start === 'number' ? list.start : 1;
      list.items.forEach((item, i) => drawItem(writer, item, list.ordered ? `${start + i}.` : '•', indent));
      return;
    }
    case 'code':
      writer.lines((token as Tokens.Code).text, indent + INDENT / 2, 'Courier', CODE_SIZE);
      return;
    case 'blockquote':
      doc.fillColor('#555555');
      drawBlocks(writer, (token as Tokens.Blockquote).tokens, indent + INDENT);
      doc.fillColor('black');
      return;
    case 'hr': {
      const y = doc.y + 4;
      doc
        .moveTo(MARGIN, y)
        .lineTo(doc.page.width - MARGIN, y)
        .lineWidth(0.5)
        .stroke('#999999');
      doc.y = y + 8;
      return;
    }
    case 'table': {
      const table = token as Tokens.Table;
      const row = (cells: Tokens.TableCell[]): string =>
        cells.map((cell) => plainText(cell.tokens)).join('  |  ');
      writer.paragraph([{ text: row(table.header), bold: true }], indent);
      for (const cells of table.rows) writer.paragraph([{ text: row(cells) }], indent);
      return;
    }
    case 'html': {
      const text = String(htmlToText((token as Tokens.HTML).text).output).trim();
      if (text !== '') writer.lines(text, indent, 'Helvetica', BODY_SIZE);
      return;
    }
    default:
      return; // space, link definitions: nothing to draw
  }
}

function drawItem(writer: PdfWriter, item: Tokens.ListItem, marker: string, indent: number): void {
  const [first, ...rest] = item.tokens.filter((token) => token.type !== 'checkbox');
  const box = item.task ? (item.checked ? '[x] ' : '[ ] ') : '';
  const lead: Run = { text: `${marker} ${box}` };
  if (first && (first.type === 'text' || first.type === 'paragraph')) {
    writer.paragraph([lead, ...runsOf(writer, first.tokens ?? [first])], indent + INDENT / 2);
    drawBlocks(writer, rest, indent + INDENT);
  } else {
    writer.paragraph([lead], indent + INDENT / 2);
    drawBlocks(writer, first ? [first, ...rest] : rest, indent + INDENT);
  }
}

/** Inline tokens as runs of styled text. */
function runsOf(writer: PdfWriter, tokens: readonly Token[], style: Omit<Run, 'text'> = {}): Run[] {
  return tokens.flatMap((token): Run[] => {
    switch (token.type) {
      case 'strong':
        return runsOf(writer, (token as Tokens.Strong).tokens, { ...style, bold: true });
      case 'em':
        return runsOf(writer, (token as Tokens.Em).tokens, { ...style, italic: true });
      case 'del':
        return runsOf(writer, (token as Tokens.Del).tokens, { ...style, strike: true });
      case 'link':
        return runsOf(writer, (token as Tokens.Link).tokens, { ...style, link: (token as Tokens.Link).href });
      case 'codespan':
        return [{ ...style, text: (token as Tokens.Codespan).text, code: true }];
      case 'image':
        writer.countImage();
        return [{ ...style, text: `[${(token as Tokens.Image).text || 'image'}]` }];
      case 'br':
        return [{ ...style, text: '\n' }];
      case 'html':
        return []; // inline tags: their text, if any, comes as text tokens
      default: {
        const nested = (token as Tokens.Text).tokens;
        if (nested && nested.length > 0) return runsOf(writer, nested, style);
        const { text } = token as { text?: unknown };
        return [{ ...style, text: typeof text === 'string' ? text : '' }];
      }
    }
  });
}

function fontOf(run: Run, bold: boolean): string {
  if (run.code) return 'Courier';
  const strong = bold || run.bold === true;
  if (strong && run.italic) return 'Helvetica-BoldOblique';
  if (strong) return 'Helvetica-Bold';
  return run.italic ? 'Helvetica-Oblique' : 'Helvetica';
}
