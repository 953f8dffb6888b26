import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { ConversionError } from '../conversion-error.js';
import { convert, type ConvertJob, type ConvertResult } from '../conversion.js';

const DOCX = readFileSync(new URL('../../test/fixtures/report.docx', import.meta.url));

/** Converts `source` (text is UTF-8) and returns the result, its bytes as text too. */
async function run(
  source: string | Uint8Array,
  from: ConvertJob['from'],
  to: ConvertJob['to'],
  options: ConvertJob['options'] = {},
): Promise<ConvertResult & { text: string }> {
  const bytes = typeof source === 'string' ? Buffer.from(source, 'utf8') : source;
  const result = await convert({ source: bytes, from, to, options, charset: 'utf-8' });
  return { ...result, text: Buffer.from(result.data).toString('utf8') };
}

/** The code and message a conversion fails with. */
async function failure(job: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await job.then(
    () => {
      throw new Error('the conversion succeeded');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConversionError);
  const { code, message } = error as ConversionError;
  return { code, message };
}

const MARKDOWN = [
  '# Quarterly report',
  '',
  'Sales grew by **12 percent**, see [the notes](https://example.com/notes) and `table 3`.',
  '',
  '- first point',
  '- second point',
  '',
  '```',
  'total = 1234',
  '```',
  '',
  '| region | sales |',
  '| --- | --- |',
  '| north | 40 |',
].join('\n');

describe('Markdown and HTML', () => {
  it('Markdown -> HTML: a complete document titled by its first heading; HTML -> text reads it back', async () => {
    const html = await run(MARKDOWN, 'markdown', 'html');
    expect(html.mediaType).toBe('text/html; charset=utf-8');
    expect(html.text).toMatch(/^<!doctype html>/);
    expect(html.text).toContain('<title>Quarterly report</title>');
    expect(html.text).toContain('<h1>Quarterly report</h1>');
    expect(html.text).toContain('<strong>12 percent</strong>');
    expect(html.text).toContain('<table>');

    const text = await run(html.text, 'html', 'text');
    expect(text.mediaType).toBe('text/plain; charset=utf-8');
    expect(text.text).toContain('QUARTERLY REPORT');
    expect(text.text).toContain('Sales grew by 12 percent, see the notes [https://example.com/notes]');
    expect(text.text).toMatch(/\* first point\n \* second point/);
    expect(text.text).not.toContain('<');
  });

  it('Markdown -> HTML takes the title option over the heading, escaped', async () => {
    const html = await run('# Heading', 'markdown', 'html', { title: 'Q3 <draft>' });
    expect(html.text).toContain('<title>Q3 &lt;draft&gt;</title>');
  });

  it('HTML -> text leaves out scripts and images and keeps no markup', async () => {
    const { text } = await run(
      '<html><head><script>alert(1)</script></head><body><p>One</p><img src="x.png" alt="chart"><p>Two</p></body></html>',
      'html',
      'text',
    );
    expect(text).toBe('One\n\nTwo\n');
  });
});

describe('PDF out and back', () => {
  it('Markdown -> PDF -> text, with its page count and title', async () => {
    const pdf = await run(MARKDOWN, 'markdown', 'pdf', { pageSize: 'Letter' });
    expect(pdf.mediaType).toBe('application/pdf');
    expect(pdf.text.startsWith('%PDF-')).toBe(true);
    expect(pdf.metadata).toEqual({ pages: 1 });

    const back = await run(pdf.data, 'pdf', 'text');
    expect(back.metadata).toMatchObject({
      pages: 1,
      title: 'Quarterly report',
      creator: 'Crank convert.document',
    });
    expect(back.metadata.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    for (const words of ['Quarterly report', '12 percent', 'first point', 'total = 1234', 'north']) {
      expect(back.text).toContain(words);
    }
  });

  it('HTML -> PDF -> text', async () => {
    const pdf = await run(
      '<h1>Invoice</h1><p>Amount due: <b>42 EUR</b></p><img src="logo.png">',
      'html',
      'pdf',
    );
    expect(pdf.warnings).toEqual(['1 images are not embedded; their alt text is shown instead']);
    const back = await run(pdf.data, 'pdf', 'text');
    expect(back.text).toContain('INVOICE');
    expect(back.text).toContain('Amount due: 42 EUR');
  });

  it('text -> PDF -> text over several pages, pages separated by form feeds', async () => {
    const lines = Array.from({ length: 150 }, (_, i) => `line ${i + 1}`);
    const pdf = await run(lines.join('\n'), 'text', 'pdf', { title: 'Log' });
    const pages = pdf.metadata.pages ?? 0;
    expect(pages).toBeGreaterThan(1);

    const back = await run(pdf.data, 'pdf', 'text');
    expect(back.metadata).toMatchObject({ pages, title: 'Log' });
    expect(back.text.split('\f')).toHaveLength(pages);
    expect(back.text).toContain('line 1');
    expect(back.text).toContain('line 150');
  });

  it('says which characters the standard PDF fonts cannot draw', async () => {
    const pdf = await run('Price: 10 € — Привет', 'text', 'pdf');
    expect(pdf.warnings).toEqual([
      '6 characters outside the standard PDF fonts\' Latin set (first: "П") were drawn as "?"',
    ]);
    expect((await run(pdf.data, 'pdf', 'text')).text).toContain('Price: 10 € — ??????');
  });

  it('warns about a PDF without text and about options that do not apply', async () => {
    const empty = await run(' ', 'text', 'pdf');
    const back = await run(empty.data, 'pdf', 'text', { width: 10 });
    expect(back.text).toBe('');
    expect(back.warnings).toEqual([
      'options.width: does not apply to text output; ignored',
      'the PDF has no text layer (scanned pages?); no text extracted',
    ]);
  });
});

describe('DOCX', () => {
  it('DOCX -> HTML keeps headings and emphasis', async () => {
    const html = await run(DOCX, 'docx', 'html', { title: 'Report' });
    expect(html.text).toContain('<title>Report</title>');
    expect(html.text).toContain(
      '<h1>Quarterly Report</h1><p>Sales grew by <strong>12 percent</strong> this quarter.</p>',
    );
    expect(html.warnings).toEqual([]);
  });

  it('DOCX -> text', async () => {
    const text = await run(DOCX, 'docx', 'text');
    expect(text.text).toBe('Quarterly Report\n\nSales grew by 12 percent this quarter.\n\n');
  });
});

describe('CSV and JSON', () => {
  const CSV = 'name,city,note\r\nAnn,Oslo,"says ""hi"", twice"\r\nBob,Lima,\r\n';

  it('CSV -> JSON -> CSV -> JSON keeps every value', async () => {
    const json = await run(CSV, 'csv', 'json');
    expect(json.mediaType).toBe('application/json');
    const rows = JSON.parse(json.text) as unknown;
    expect(rows).toEqual([
      { name: 'Ann', city: 'Oslo', note: 'says "hi", twice' },
      { name: 'Bob', city: 'Lima', note: '' },
    ]);
    const csv = await run(json.text, 'json', 'csv');
    expect(csv.mediaType).toBe('text/csv; charset=utf-8');
    expect(csv.text).toBe('name,city,note\r\nAnn,Oslo,"says ""hi"", twice"\r\nBob,Lima,');
    expect(JSON.parse((await run(csv.text, 'csv', 'json')).text)).toEqual(rows);
  });

  it('CSV -> JSON detects the delimiter and reports ragged rows', async () => {
    const semicolons = await run('a;b\n1;2\n\n3;4\n', 'csv', 'json');
    expect(JSON.parse(semicolons.text)).toEqual([
      { a: '1', b: '2' },
      { a: '3', b: '4' },
    ]);
    const ragged = await run('a,b\n1,2\n3\n4,5\n', 'csv', 'json');
    expect(JSON.parse(ragged.text)).toEqual([{ a: '1', b: '2' }, { a: '3' }, { a: '4', b: '5' }]);
    expect(ragged.warnings).toEqual(["1 rows have a field count other than the header's (data rows 2)"]);
  });

  it('JSON -> CSV takes objects with differing keys, arrays, and nested values', async () => {
    const objects = await run(JSON.stringify([{ a: 1, b: null }, { c: { d: true } }]), 'json', 'csv');
    expect(objects.text).toBe('a,b,c\r\n1,,\r\n,,"{""d"":true}"');
    const arrays = await run('[["x","y"],[1,2]]', 'json', 'csv');
    expect(arrays.text).toBe('x,y\r\n1,2');
  });
});

describe('corrupt files get INVALID_INPUT with a message', () => {
  const NOT_UTF8 = Buffer.from([0x48, 0x69, 0xc3, 0x28, 0xff, 0x0a]);

  it.each([
    ['markdown', 'html'],
    ['html', 'text'],
    ['text', 'pdf'],
    ['csv', 'json'],
    ['json', 'csv'],
  ] as const)('%s that is not UTF-8', async (from, to) => {
    expect(await failure(run(NOT_UTF8, from, to))).toEqual({
      code: 'INVALID_INPUT',
      message: `content: is not utf-8 text, so not ${from}`,
    });
  });

  it('a truncated PDF', async () => {
    const pdf = (await run(MARKDOWN, 'markdown', 'pdf')).data;
    expect(await failure(run(pdf.subarray(0, pdf.length / 2), 'pdf', 'text'))).toEqual({
      code: 'INVALID_INPUT',
      message: 'content: is not a valid pdf file (Invalid PDF structure.)',
    });
  });

  it('a PDF with its body overwritten', async () => {
    const pdf = Buffer.from((await run(MARKDOWN, 'markdown', 'pdf')).data);
    pdf.fill(0x20, 9);
    expect((await failure(run(pdf, 'pdf', 'text'))).code).toBe('INVALID_INPUT');
  });

  it.each([
    ['truncated', DOCX.subarray(0, 900)],
    ['without its document part', Buffer.from(DOCX).fill(0x41, 60, 400)],
  ])('a DOCX %s', async (_name, bytes) => {
    for (const to of ['html', 'text'] as const) {
      const { code, message } = await failure(run(bytes, 'docx', to));
      expect(code).toBe('INVALID_INPUT');
      expect(message).toMatch(/^content: is not a valid docx file \(.+\)$/);
    }
  });

  it('CSV with a quote left open', async () => {
    expect(await failure(run('a,b\n1,"2\n3,4\n', 'csv', 'json'))).toEqual({
      code: 'INVALID_INPUT',
      message: 'content: is not valid CSV (Quoted field unterminated, line 2)',
    });
  });

  it('JSON that does not parse, or is no array of rows', async () => {
    const broken = await failure(run('[{"a": 1}', 'json', 'csv'));
    expect(broken.code).toBe('INVALID_INPUT');
    expect(broken.message).toMatch(/^content: is not valid JSON \(/);
    expect(await failure(run('{"a": 1}', 'json', 'csv'))).toEqual({
      code: 'INVALID_INPUT',
      message: 'content: JSON to CSV takes an array of rows, objects or arrays (got an object)',
    });
    expect(await failure(run('[{"a": 1}, 2]', 'json', 'csv'))).toEqual({
      code: 'INVALID_INPUT',
      message: 'content: JSON to CSV takes rows that are all objects or all arrays (row 1 is a number)',
    });
  });
});
