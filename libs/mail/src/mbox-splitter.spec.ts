import { describe, expect, it } from '@jest/globals';
import { MboxSplitter, splitMbox, type MboxEvent } from './mbox-splitter.js';

interface Segment {
  offset: number;
  fromLine: string;
  body: string;
  size: number;
}

/** The messages and preamble the events describe, message bodies as text. */
function read(events: MboxEvent[]): { messages: Segment[]; preamble?: { offset: number; size: number } } {
  const messages: Segment[] = [];
  let preamble: { offset: number; size: number } | undefined;
  let current: { offset: number; fromLine: string; parts: Buffer[] } | undefined;
  for (const event of events) {
    if (event.type === 'message') current = { offset: event.offset, fromLine: event.fromLine, parts: [] };
    else if (event.type === 'data') current?.parts.push(Buffer.from(event.data));
    else if (event.type === 'preamble') preamble = { offset: event.offset, size: event.size };
    else {
      if (!current) throw new Error('end without message');
      messages.push({
        offset: current.offset,
        fromLine: current.fromLine,
        body: Buffer.concat(current.parts).toString('latin1'),
        size: event.size,
      });
      current = undefined;
    }
  }
  return preamble ? { messages, preamble } : { messages };
}

/** Splits `mbox` given in chunks cut at `cuts`. */
function split(mbox: string, cuts: number[] = []): ReturnType<typeof read> {
  const bytes = Buffer.from(mbox, 'latin1');
  const splitter = new MboxSplitter();
  const events: MboxEvent[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    events.push(...splitter.write(bytes.subarray(at, cut)));
    at = cut;
  }
  events.push(...splitter.end());
  return read(events);
}

/** Every way of cutting `mbox` in two and in three (adjacent) pieces gives the same result. */
function expectCutAnywhere(mbox: string): ReturnType<typeof read> {
  const whole = split(mbox);
  for (let cut = 0; cut <= mbox.length; cut++) {
    expect([cut, split(mbox, [cut])]).toEqual([cut, whole]);
    if (cut + 1 <= mbox.length) expect([cut, split(mbox, [cut, cut + 1])]).toEqual([cut, whole]);
  }
  const bytes = [...Array(mbox.length).keys()];
  expect(split(mbox, bytes)).toEqual(whole);
  return whole;
}

const TWO = [
  'From ann@example.com Fri Nov 27 12:00:00 2026',
  'Subject: one',
  '',
  'Hello',
  '',
  'From bob@example.org Fri Nov 27 12:01:00 2026',
  'Subject: two',
  '',
  'Bye',
  '',
].join('\n');
/** Where the second message of {@link TWO} starts. */
const SECOND = TWO.indexOf('From bob');

describe('MboxSplitter', () => {
  it('splits at each From line, leaving out the From line and the blank line before the next', () => {
    const { messages, preamble } = expectCutAnywhere(TWO);
    expect(preamble).toBeUndefined();
    expect(messages).toEqual([
      {
        offset: 0,
        fromLine: 'ann@example.com Fri Nov 27 12:00:00 2026',
        body: 'Subject: one\n\nHello\n',
        size: SECOND,
      },
      {
        offset: SECOND,
        fromLine: 'bob@example.org Fri Nov 27 12:01:00 2026',
        body: 'Subject: two\n\nBye\n',
        size: TWO.length - SECOND,
      },
    ]);
    expect(messages.reduce((sum, m) => sum + m.size, 0)).toBe(TWO.length);
  });

  it('reads CRLF files the same way, line breaks kept as they are', () => {
    const crlf = TWO.replace(/\n/g, '\r\n');
    const { messages } = expectCutAnywhere(crlf);
    expect(messages.map((m) => [m.fromLine, m.body])).toEqual([
      ['ann@example.com Fri Nov 27 12:00:00 2026', 'Subject: one\r\n\r\nHello\r\n'],
      ['bob@example.org Fri Nov 27 12:01:00 2026', 'Subject: two\r\n\r\nBye\r\n'],
    ]);
  });

  it('undoes mboxrd quoting: one ">" less before From, other lines untouched', () => {
    const mbox = [
      'From a@example.com Sat Nov 28 09:00:00 2026',
      'Subject: quotes',
      '',
      '>From the start',
      '>>From deeper',
      '> From with a space',
      '>Fromage',
      'not From at the start',
      '>>>',
      '',
    ].join('\n');
    const { messages } = expectCutAnywhere(mbox);
    expect(messages[0]?.body).toBe(
      'Subject: quotes\n\nFrom the start\n>From deeper\n> From with a space\n>Fromage\nnot From at the start\n>>>\n',
    );
  });

  it('ends a last message without a final line break at the end of the input', () => {
    const mbox = 'From a@b Sat Nov 28 09:00:00 2026\nSubject: x\n\nno newline at the end';
    const { messages } = expectCutAnywhere(mbox);
    expect(messages).toEqual([
      {
        offset: 0,
        fromLine: 'a@b Sat Nov 28 09:00:00 2026',
        body: 'Subject: x\n\nno newline at the end',
        size: mbox.length,
      },
    ]);
  });

  it('reports text before the first From line as a preamble, and keeps blank ones quiet', () => {
    const garbage = 'garbage\x00\xff here\nmore\n';
    const { messages, preamble } = expectCutAnywhere(`${garbage}${TWO}`);
    expect(preamble).toEqual({ offset: 0, size: garbage.length });
    expect(messages.map((m) => m.offset)).toEqual([garbage.length, garbage.length + SECOND]);
    expect(split(`\n \r\n${TWO}`).preamble).toBeUndefined();
    expect(split('not an mbox at all').preamble).toEqual({ offset: 0, size: 18 });
  });

  it('strips one blank line before a separator and keeps the others', () => {
    const mbox = 'From a\nS: 1\n\nbody\n\n\n\nFrom b\nS: 2\n';
    const { messages } = expectCutAnywhere(mbox);
    expect(messages.map((m) => m.body)).toEqual(['S: 1\n\nbody\n\n\n', 'S: 2\n']);
  });

  it('takes a From line with no blank line before it as a separator too', () => {
    const { messages } = expectCutAnywhere('From a\nS: 1\n\nbody\nFrom b\nS: 2\n');
    expect(messages.map((m) => m.body)).toEqual(['S: 1\n\nbody\n', 'S: 2\n']);
  });

  it('reads empty messages and a last From line without a line break', () => {
    const { messages } = expectCutAnywhere('From a\n\nFrom b\nFrom c');
    expect(messages.map((m) => [m.fromLine, m.body, m.size])).toEqual([
      ['a', '', 8],
      ['b', '', 7],
      ['c', '', 6],
    ]);
  });

  it('takes "From" at the end of the input, too short for a separator, as text', () => {
    const { messages } = expectCutAnywhere('From a\nS: 1\n\nFrom');
    expect(messages.map((m) => m.body)).toEqual(['S: 1\n\nFrom']);
  });

  it('cuts a very long From line to 1,000 characters', () => {
    const { messages } = split(`From ${'x'.repeat(5000)}\nS: 1\n`, [10, 3000]);
    expect(messages[0]?.fromLine).toHaveLength(1000);
    expect(messages[0]?.body).toBe('S: 1\n');
  });

  it('streams a large message through as data, never whole', () => {
    const splitter = new MboxSplitter();
    const events = splitter.write(Buffer.from('From a\nSubject: big\n\n'));
    const line = Buffer.from(`${'y'.repeat(99)}\n`);
    const chunk = Buffer.concat(Array(640).fill(line)); // 64 000 bytes of 100-byte lines
    let largest = 0;
    for (let i = 0; i < 100; i++) {
      for (const event of splitter.write(chunk)) {
        if (event.type === 'data') largest = Math.max(largest, event.data.length);
        events.push(event);
      }
    }
    events.push(...splitter.end());
    expect(largest).toBeLessThanOrEqual(chunk.length);
    const { messages } = read(events);
    expect(messages[0]?.body.length).toBe('Subject: big\n\n'.length + 100 * chunk.length);
  });
});

describe('splitMbox', () => {
  it('yields the events of an async source, chunk by chunk', async () => {
    async function* source(): AsyncGenerator<Uint8Array> {
      const bytes = Buffer.from(TWO);
      for (let at = 0; at < bytes.length; at += 7) yield bytes.subarray(at, at + 7);
    }
    const events: MboxEvent[] = [];
    for await (const event of splitMbox(source())) events.push(event);
    expect(read(events)).toEqual(split(TWO));
  });
});
