import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { PARSE_EMAIL, PARSE_MBOX, type ParseMboxOptions, type ParseMboxRecord } from '@crank/capabilities';
import { CapabilityError } from '@crank/worker-runtime';
import { EmailParserHandlers } from './email-parser.handlers.js';

const handlers = new EmailParserHandlers();
const MESSAGE = [
  'From: Ann <ann@example.com>',
  'To: bob@example.org',
  'Subject: =?utf-8?q?Lunch=3F?=',
  'Date: Fri, 27 Nov 2026 12:00:00 +0000',
  'Message-ID: <1@example.com>',
  '',
  'Noon at the usual place?',
].join('\r\n');

async function collect(records: (ParseMboxOptions | Buffer)[]): Promise<ParseMboxRecord[]> {
  async function* input(): AsyncGenerator<ParseMboxOptions | Buffer> {
    yield* records;
  }
  const out: ParseMboxRecord[] = [];
  for await (const record of handlers.parseMbox(input())) out.push(record);
  return out;
}

describe('parse.email', () => {
  it('answers the summary of a message given as text, base64 or raw bytes', () => {
    const expected = {
      messageId: '1@example.com',
      from: { name: 'Ann', address: 'ann@example.com' },
      to: [{ address: 'bob@example.org' }],
      cc: [],
      subject: 'Lunch?',
      date: '2026-11-27T12:00:00.000Z',
      attachments: [],
      warnings: [],
      textBody: 'Noon at the usual place?',
      headers: {
        from: 'Ann <ann@example.com>',
        to: 'bob@example.org',
        subject: 'Lunch?',
        date: 'Fri, 27 Nov 2026 12:00:00 +0000',
        'message-id': '<1@example.com>',
      },
    };
    expect(handlers.parseEmail({ raw: MESSAGE })).toEqual(expected);
    expect(handlers.parseEmail({ raw: Buffer.from(MESSAGE).toString('base64'), encoding: 'base64' })).toEqual(
      expected,
    );
    expect(handlers.parseEmail(Buffer.from(MESSAGE))).toEqual(expected);
    expect(PARSE_EMAIL.validateOutput(expected)).toEqual([]);
  });

  it('refuses bytes that are no message, naming the input', () => {
    expect(() => handlers.parseEmail(Buffer.from('\x00 no header here'))).toThrow(
      new CapabilityError(
        'INVALID_INPUT',
        'raw: is not an RFC 5322 message (it starts with no header field)',
      ),
    );
  });

  it('refuses a message larger than 32 MiB with PAYLOAD_TOO_LARGE', () => {
    const big = Buffer.alloc(32 * 1024 * 1024 + 1, 0x61);
    expect(() => handlers.parseEmail(big)).toThrow(/more than the 33554432 parse.email takes/);
  });
});

describe('parse.mbox', () => {
  const mbox = Buffer.from(
    `From a@example.com Sat Nov 28 09:00:00 2026\n${MESSAGE}\n\nFrom b\nSubject: two\n\nsecond\n`,
  );

  it('takes an options chunk first, then the mbox bytes in any cut', async () => {
    const records = await collect([
      { previewChars: 4, includeHeaders: true },
      mbox.subarray(0, 50),
      mbox.subarray(50),
    ]);
    expect(records.map((r) => r.type)).toEqual(['message', 'message', 'totals']);
    expect(records[0]).toMatchObject({
      subject: 'Lunch?',
      textPreview: 'Noon',
      headers: { to: 'bob@example.org' },
    });
    for (const record of records) expect(PARSE_MBOX.validateOutput(record)).toEqual([]);
  });

  it('uses the defaults without an options chunk', async () => {
    const records = await collect([mbox]);
    expect(records[0]).toMatchObject({ textPreview: 'Noon at the usual place?' });
    expect(records[0]).not.toHaveProperty('headers');
  });

  it('fails with INVALID_INPUT when options come after mbox bytes', async () => {
    await expect(collect([mbox, { previewChars: 1 }])).rejects.toThrow(
      new CapabilityError('INVALID_INPUT', 'options: send them as the first chunk, before the mbox bytes'),
    );
  });

  it('answers only the totals for an empty stream', async () => {
    expect(await collect([])).toEqual([expect.objectContaining({ type: 'totals' })]);
  });
});
