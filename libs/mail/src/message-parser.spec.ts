import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { MessageParser, type MessageParserOptions } from './message-parser.js';
import type { ParsedMessage } from './message-summary.js';
import { parseMessage } from './parse-message.js';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Parses `raw` fed in chunks of `size` bytes. */
function parseInChunks(raw: Buffer, size: number, options?: MessageParserOptions): ParsedMessage {
  const parser = new MessageParser(options);
  for (let at = 0; at < raw.length; at += size) parser.write(raw.subarray(at, at + size));
  return parser.end();
}

/** Parses whole, then in chunks of every size from 1 to 64 bytes: the results must agree. */
function parseEverywhere(text: string, options?: MessageParserOptions): ParsedMessage {
  const raw = Buffer.from(text, 'utf8');
  const whole = parseMessage(raw, options);
  for (let size = 1; size <= 64; size++)
    expect([size, parseInChunks(raw, size, options)]).toEqual([size, whole]);
  return whole;
}

const crlf = (lines: string[]): string => lines.join('\r\n');
const PDF = Buffer.from('%PDF-1.7 not really a pdf, but bytes all the same\n'.repeat(20));
const PDF_BASE64 = PDF.toString('base64').replace(/.{76}/g, '$&\r\n');

const MULTIPART = crlf([
  'Return-Path: <ann@example.com>',
  'From: =?UTF-8?B?SsO8cmdlbg==?= Example <jurgen@example.com>',
  'To: Bob <bob@example.org>, "Carol, C." <carol@example.net>',
  'Cc: team: dave@example.com, erin@example.com;',
  'Subject: =?UTF-8?Q?Caf=C3=A9_men=C3=BC?=',
  '  =?ISO-8859-1?Q?_=E0_midi?=',
  'Date: Fri, 27 Nov 2026 12:00:00 -0800 (PST)',
  'Message-ID: <menu-1@example.com>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  'This is the preamble.',
  '--outer',
  'Content-Type: multipart/alternative; boundary=inner',
  '',
  '--inner',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Caf=C3=A9 at noon, a long line that is soft-=',
  'broken here.',
  '-- ',
  'Ann',
  '--inner',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Caf&eacute; at <b>noon</b></p>',
  '--inner--',
  '--outer',
  'Content-Type: application/pdf; name="ignored.pdf"',
  "Content-Disposition: attachment; filename*=UTF-8''men%C3%BC.pdf",
  'Content-Transfer-Encoding: base64',
  '',
  PDF_BASE64,
  '--outer--',
  'The epilogue.',
]);

describe('MessageParser', () => {
  it('reads a multipart message: decoded headers, addresses, bodies, attachment hash', () => {
    const parsed = parseEverywhere(MULTIPART);
    expect(parsed).toMatchObject({
      messageId: 'menu-1@example.com',
      from: { name: 'Jürgen Example', address: 'jurgen@example.com' },
      to: [
        { name: 'Bob', address: 'bob@example.org' },
        { name: 'Carol, C.', address: 'carol@example.net' },
      ],
      cc: [{ address: 'dave@example.com' }, { address: 'erin@example.com' }],
      subject: 'Café menü à midi',
      date: '2026-11-27T20:00:00.000Z',
      text: 'Café at noon, a long line that is soft-broken here.\n-- \nAnn',
      html: '<p>Caf&eacute; at <b>noon</b></p>',
      attachments: [
        { filename: 'menü.pdf', contentType: 'application/pdf', size: PDF.length, sha256: sha256(PDF) },
      ],
      warnings: [],
      hasHeader: true,
    });
    expect(parsed.headers).toBeUndefined();
  });

  it('keeps every header with keepHeaders, decoded, repeated ones joined', () => {
    const parsed = parseMessage(
      Buffer.from(
        crlf(['Received: a', 'Received: b', 'X-Note: =?utf-8?q?caf=C3=A9?=', 'Subject: s', '', 'x']),
      ),
      { keepHeaders: true },
    );
    expect(parsed.headers).toEqual({ received: 'a\nb', 'x-note': 'café', subject: 's' });
  });

  it('joins words split inside a multi-byte character, and reads 8-bit UTF-8 headers', () => {
    // "€" is E2 82 AC: the first word ends after E2.
    const parsed = parseEverywhere(
      'Subject: =?utf-8?B?4g==?= =?utf-8?B?gqw=?= price\nFrom: Zoë <z@example.com>\n\n.',
    );
    expect(parsed.subject).toBe('€ price');
    expect(parsed.from).toEqual({ name: 'Zoë', address: 'z@example.com' });
    expect(parsed.warnings).toEqual([]);
  });

  it('reads a plain message with LF line breaks, a charset and no MIME headers', () => {
    const latin1 = Buffer.concat([
      Buffer.from('From: ann@example.com\nContent-Type: text/plain; charset=iso-8859-1\n\n'),
      Buffer.from('Gr\xfc\xdfe\n', 'latin1'),
    ]);
    const parsed = parseMessage(latin1);
    expect(parsed).toMatchObject({
      from: { address: 'ann@example.com' },
      to: [],
      text: 'Grüße\n',
      warnings: [],
    });
  });

  it('takes the HTML as text for an HTML-only message', () => {
    const parsed = parseEverywhere(
      crlf([
        'Content-Type: text/html',
        '',
        '<html><head><style>p{}</style></head><body><p>Hi &amp; bye</p>line</body></html>',
      ]),
    );
    expect(parsed.text).toBe('Hi & bye\nline');
  });

  it('keeps text up to maxTextChars and says it left the rest out', () => {
    const parsed = parseMessage(Buffer.from(`Subject: long\n\n${'abcdefghij'.repeat(100)}`), {
      maxTextChars: 25,
    });
    expect(parsed.text).toBe('abcdefghijabcdefghijabcde');
    expect(parsed.textTruncated).toBe(true);
  });

  it('numbers nested parts the IMAP way and digests message/rfc822 as an attachment', () => {
    const parsed = parseEverywhere(
      crlf([
        'Content-Type: multipart/mixed; boundary=a',
        '',
        '--a',
        '',
        'first',
        '--a',
        'Content-Type: multipart/mixed; boundary=b',
        '',
        '--b',
        'Content-Type: image/png',
        'Content-Transfer-Encoding: base64',
        '',
        'iVBORw0KGgo=',
        '--b',
        'Content-Type: message/rfc822',
        '',
        'Subject: inner',
        '',
        'inner body',
        '--b--',
        '--a--',
        '',
      ]),
    );
    const inner = Buffer.from('Subject: inner\r\n\r\ninner body');
    expect(parsed.text).toBe('first');
    expect(parsed.attachments).toEqual([
      { contentType: 'image/png', size: 8, sha256: sha256(Buffer.from('iVBORw0KGgo=', 'base64')) },
      { contentType: 'message/rfc822', size: inner.length, sha256: sha256(inner) },
    ]);
  });

  it('ends the headers at a line that is no header, with a warning', () => {
    const parsed = parseEverywhere('Subject: broken\nThis line has no colon\nDate: x\n\nbody');
    expect(parsed.subject).toBe('broken');
    expect(parsed.date).toBeUndefined();
    expect(parsed.text).toBe('This line has no colon\nDate: x\n\nbody');
    expect(parsed.warnings).toEqual([
      {
        code: 'header-syntax',
        message: 'line "This line has no colon" is not a header; the headers end there',
      },
    ]);
  });

  it('reports malformed MIME parts by part number', () => {
    const parsed = parseEverywhere(
      [
        'Subject: broken',
        'Date: someday',
        'Content-Type: multipart/mixed; boundary=x',
        '',
        '--x',
        'Content-Type: text/plain; charset=x-no-such-charset',
        '',
        'hello',
        '--x',
        'Content-Type: application/octet-stream',
        'Content-Transfer-Encoding: base64',
        '',
        'AAAA!!!!AAAA',
        '--x',
        'Content-Type: text/plain',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        'bad =ZZ escape',
        '--x',
        'Content-Type: text/plain',
        'Content-Transfer-Encoding: x-uuencode',
        '',
        'raw',
        '',
      ].join('\n'),
    );
    expect(parsed.warnings.map((w) => [w.code, w.part])).toEqual([
      ['unknown-charset', '1'],
      ['bad-base64', '2'],
      ['bad-quoted-printable', '3'],
      ['unknown-transfer-encoding', '4'],
      ['unterminated-multipart', undefined],
      ['bad-date', undefined],
    ]);
    expect(parsed.text).toBe('hello\nbad =ZZ escape\nraw\n');
    expect(parsed.attachments).toEqual([
      { contentType: 'application/octet-stream', size: 6, sha256: sha256(Buffer.from('AAAAAAAA', 'base64')) },
    ]);
  });

  it('reads a multipart without a boundary as text, and a bad Content-Type as text/plain', () => {
    const noBoundary = parseMessage(Buffer.from('Content-Type: multipart/mixed\n\nbody\n'));
    expect([noBoundary.text, noBoundary.warnings.map((w) => w.code)]).toEqual([
      'body\n',
      ['missing-boundary'],
    ]);
    const badType = parseMessage(Buffer.from('Content-Type: text\n\nbody'));
    expect([badType.text, badType.warnings.map((w) => w.code)]).toEqual(['body', ['bad-content-type']]);
  });

  it('says when the bytes are no message at all', () => {
    expect(parseMessage(Buffer.from('\x00\x01 binary junk\nmore')).hasHeader).toBe(false);
    expect(parseMessage(Buffer.alloc(0)).hasHeader).toBe(false);
    expect(parseMessage(Buffer.from('Subject: only headers')).hasHeader).toBe(true);
  });

  it('skips a leading mbox From line in parseMessage', () => {
    const parsed = parseMessage(
      Buffer.from('From ann@example.com Fri Nov 27 12:00:00 2026\nSubject: hi\n\nbody'),
    );
    expect([parsed.subject, parsed.text, parsed.warnings]).toEqual(['hi', 'body', []]);
  });

  it('reads a 100 MB attachment and a 100 MB text part in bounded memory', () => {
    const parser = new MessageParser({ maxTextChars: 1000 });
    const head = crlf([
      'Subject: huge',
      'Content-Type: multipart/mixed; boundary=big',
      '',
      '--big',
      'Content-Type: video/mp4',
      'Content-Transfer-Encoding: base64',
      '',
      '',
    ]);
    parser.write(Buffer.from(head));
    // 1 MiB of decoded bytes per round: 57 bytes make one 76-character base64 line.
    const block = Buffer.alloc(57 * 18396, 7);
    const encoded = Buffer.from(`${block.toString('base64').replace(/.{76}/g, '$&\r\n')}`);
    const hash = createHash('sha256');
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100; i++) {
      for (let at = 0; at < encoded.length; at += 65536) parser.write(encoded.subarray(at, at + 65536));
      hash.update(block);
    }
    parser.write(Buffer.from('--big\r\nContent-Type: text/plain\r\n\r\n'));
    const text = Buffer.from('0123456789'.repeat(6553) + '\r\n');
    for (let i = 0; i < 1600; i++) parser.write(text);
    parser.write(Buffer.from('\r\n--big--\r\n'));
    const parsed = parser.end();
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
    expect(parsed.attachments).toEqual([
      { contentType: 'video/mp4', size: 100 * block.length, sha256: hash.digest('hex') },
    ]);
    expect(parsed.text).toHaveLength(1000);
    expect(parsed.textTruncated).toBe(true);
    expect(parsed.warnings).toEqual([]);
  });
});
