import { describe, expect, it } from '@jest/globals';
import { PARSE_MBOX, type ParseMboxOptions, type ParseMboxRecord } from '@crank/capabilities';
import { summarizeMbox } from './summarize-mbox.js';

async function* chunks(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function summarize(
  mbox: string | Buffer,
  options?: ParseMboxOptions,
  size = 13,
): Promise<ParseMboxRecord[]> {
  const records: ParseMboxRecord[] = [];
  for await (const record of summarizeMbox(chunks(Buffer.from(mbox), size), options)) records.push(record);
  return records;
}

const message = (n: number, from: string, date: string, extra = ''): string =>
  [
    `From ${from} Sat Nov 28 09:00:00 2026`,
    `From: Sender ${n} <${from}>`,
    `To: you@example.org`,
    `Subject: message ${n}`,
    `Date: ${date}`,
    `Message-ID: <${n}@example.com>`,
    '',
    `Body of   message ${n},`,
    'on two lines.',
    extra,
    '',
  ].join('\n');

const MBOX =
  'stray text before the first message\n' +
  message(0, 'ann@example.com', 'Fri, 27 Nov 2026 12:00:00 +0000') +
  'From nobody Sat Nov 28 09:00:00 2026\n\x00\x01 binary junk, no header\n\n' +
  message(1, 'bob@EXAMPLE.com', 'Mon, 2 Jan 2023 08:00:00 +0000') +
  message(2, 'carol@example.net', 'not a date', '>From the quoted line');

describe('summarizeMbox', () => {
  it('yields a record per message and per garbage run as it reads, then the totals', async () => {
    const records = await summarize(MBOX);
    expect(
      records.map((r) => [r.type, r.type === 'message' ? r.index : r.type === 'garbage' ? r.reason : '']),
    ).toEqual([
      ['garbage', 'preamble'],
      ['message', 0],
      ['garbage', 'no-header'],
      ['message', 1],
      ['message', 2],
      ['totals', ''],
    ]);
    const [preamble, first] = records;
    expect(preamble).toEqual({ type: 'garbage', offset: 0, size: 36, reason: 'preamble' });
    expect(first).toEqual({
      type: 'message',
      index: 0,
      offset: 36,
      size: message(0, 'ann@example.com', 'Fri, 27 Nov 2026 12:00:00 +0000').length,
      messageId: '0@example.com',
      from: { name: 'Sender 0', address: 'ann@example.com' },
      to: [{ address: 'you@example.org' }],
      cc: [],
      subject: 'message 0',
      date: '2026-11-27T12:00:00.000Z',
      attachments: [],
      warnings: [],
      textPreview: 'Body of message 0, on two lines.',
    });
    const last = records.at(-2);
    expect(last).toMatchObject({ textPreview: 'Body of message 2, on two lines. From the quoted line' });
    expect(last?.type === 'message' && last.warnings.map((w) => w.code)).toEqual(['bad-date']);
    expect(records.at(-1)).toEqual({
      type: 'totals',
      totals: {
        messages: 3,
        bytes: Buffer.byteLength(MBOX),
        malformed: 1,
        attachments: 0,
        garbage: {
          segments: 2,
          bytes: 36 + 'From nobody Sat Nov 28 09:00:00 2026\n\x00\x01 binary junk, no header\n\n'.length,
        },
        topSenderDomains: [
          { domain: 'example.com', count: 2 },
          { domain: 'example.net', count: 1 },
        ],
        topSenderDomainsApproximate: false,
        dateRange: { first: '2023-01-02T08:00:00.000Z', last: '2026-11-27T12:00:00.000Z' },
        complete: true,
      },
    });
  });

  it('gives the same records however the input is cut', async () => {
    const whole = await summarize(MBOX, {}, 1 << 20);
    for (const size of [1, 2, 3, 5, 64, 4096])
      expect([size, await summarize(MBOX, {}, size)]).toEqual([size, whole]);
  });

  it('writes records the catalog accepts', async () => {
    const records = await summarize(MBOX, { includeHeaders: true });
    for (const record of records) expect(PARSE_MBOX.validateOutput(record)).toEqual([]);
    expect(records[1]).toMatchObject({ headers: { subject: 'message 0', to: 'you@example.org' } });
  });

  it('honours previewChars and stops after maxMessages', async () => {
    const records = await summarize(MBOX, { previewChars: 7, maxMessages: 2 });
    expect(
      records.filter((r) => r.type === 'message').map((r) => r.type === 'message' && r.textPreview),
    ).toEqual(['Body of', 'Body of']);
    expect(records.at(-1)).toMatchObject({ type: 'totals', totals: { messages: 2, complete: false } });
    const none = await summarize(MBOX, { previewChars: 0 });
    expect(none.some((r) => r.type === 'message' && r.textPreview !== undefined)).toBe(false);
  });

  it('reads an empty input as no message', async () => {
    expect(await summarize('')).toEqual([
      {
        type: 'totals',
        totals: {
          messages: 0,
          bytes: 0,
          malformed: 0,
          attachments: 0,
          garbage: { segments: 0, bytes: 0 },
          topSenderDomains: [],
          topSenderDomainsApproximate: false,
          complete: true,
        },
      },
    ]);
  });

  it('reads the input only as fast as its records are taken (back-pressure)', async () => {
    let pulled = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield Buffer.from(message(i, 'a@example.com', 'Fri, 27 Nov 2026 12:00:00 +0000'));
      }
    }
    const records = summarizeMbox(counted());
    for (let i = 0; i < 10; i++) await records.next();
    // Each chunk holds one message, ended by the next chunk's From line.
    expect(pulled).toBeLessThanOrEqual(12);
    await records.return(undefined);
  });
});
