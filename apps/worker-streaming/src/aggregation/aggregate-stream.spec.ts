import { describe, expect, it } from '@jest/globals';
import type { AggregateQuery, StreamAggregateOutput } from '@crank/capabilities';
import { StreamEvent } from '@crank/worker-runtime';
import { aggregateStream, type AggregateStreamOptions } from './aggregate-stream.js';

const OPTIONS: AggregateStreamOptions = { maxOpenWindows: 1_000, heartbeatMs: 60_000, now: () => 7 };
const SIMPLE: AggregateQuery['aggregations'] = ['count', 'sum', 'min', 'max', 'mean'];

async function* recordsOf(items: unknown[]): AsyncGenerator<never> {
  for (const item of items) yield item as never;
}

async function run(
  query: AggregateQuery,
  events: unknown[],
  options: Partial<AggregateStreamOptions> = {},
): Promise<StreamAggregateOutput[]> {
  const out: StreamAggregateOutput[] = [];
  for await (const record of aggregateStream(recordsOf([{ query }, ...events]), { ...OPTIONS, ...options })) {
    out.push(record);
  }
  return out;
}

/** The window records as `key [start, end) count sum min max mean`, in the order they came. */
function windows(out: StreamAggregateOutput[]): string[] {
  return out.flatMap((r) =>
    r.type === 'window'
      ? [
          `${r.key} [${r.windowStart},${r.windowEnd}) ${r.count} ${r.sum} ${r.min} ${r.max} ${r.mean}${r.early ? ' early' : ''}`,
        ]
      : [],
  );
}

const ev = (ts: number, key: string, value: number): unknown => ({ ts, key, value });

describe('aggregateStream', () => {
  it('tumbling: closes each window once the watermark passes its end, keys in order', async () => {
    const query: AggregateQuery = { window: { type: 'tumbling', sizeMs: 1000 }, aggregations: SIMPLE };
    const out = await run(query, [
      ev(0, 'b', 1),
      ev(100, 'a', 4),
      ev(999, 'a', 2),
      ev(1000, 'a', 10),
      ev(2500, 'b', 3),
    ]);

    expect(windows(out)).toEqual([
      'a [0,1000) 2 6 2 4 3',
      'b [0,1000) 1 1 1 1 1',
      'a [1000,2000) 1 10 10 10 10',
      'b [2000,3000) 1 3 3 3 3',
    ]);
    // The first two closed when ts 1000 came (before the stream ended), the third at ts 2500.
    expect(out.map((r) => r.type)).toEqual(['window', 'window', 'window', 'window', 'totals']);
    expect(out.at(-1)).toEqual({
      type: 'totals',
      events: 5,
      windows: 4,
      late: 0,
      malformed: 0,
      closedEarly: 0,
    });
  });

  it('sliding: an event counts in every window that covers it', async () => {
    const query: AggregateQuery = {
      window: { type: 'sliding', sizeMs: 3000, slideMs: 1000 },
      aggregations: ['count', 'sum'],
    };
    const out = await run(query, [ev(2500, 'k', 1), ev(3500, 'k', 2)]);

    expect(
      out
        .filter((r) => r.type === 'window')
        .map((r) => r.type === 'window' && [r.windowStart, r.count, r.sum]),
    ).toEqual([
      [0, 1, 1],
      [1000, 2, 3],
      [2000, 2, 3],
      [3000, 1, 2],
    ]);
  });

  it('session: events within the gap form one session; a late-coming event joins two', async () => {
    // Lateness keeps the first session open until ts 1200 comes.
    const query: AggregateQuery = {
      window: { type: 'session', gapMs: 1000 },
      aggregations: SIMPLE,
      allowedLatenessMs: 1000,
    };
    const out = await run(query, [
      ev(0, 'a', 1),
      ev(500, 'a', 2),
      ev(2000, 'a', 4),
      ev(1200, 'a', 8),
      ev(9000, 'b', 1),
    ]);

    // 0 and 500 are one session, 2000 another, until 1200 bridges them (each within 1000 ms).
    expect(windows(out)).toEqual(['a [0,3000) 4 15 1 8 3.75', 'b [9000,10000) 1 1 1 1 1']);
  });

  it('allowed lateness: a window takes events until the watermark passes end + lateness, then reports them late', async () => {
    const query: AggregateQuery = {
      window: { type: 'tumbling', sizeMs: 1000 },
      aggregations: ['count'],
      allowedLatenessMs: 500,
    };
    const out = await run(query, [
      ev(100, 'a', 1),
      ev(1200, 'a', 1),
      ev(900, 'a', 1),
      ev(1600, 'a', 1),
      ev(950, 'a', 5),
    ]);

    expect(out.filter((r) => r.type !== 'totals')).toEqual([
      { type: 'window', key: 'a', windowStart: 0, windowEnd: 1000, count: 2, early: false, closedAt: 7 },
      { type: 'late', key: 'a', ts: 950, offset: 5, watermark: 1600 },
      { type: 'window', key: 'a', windowStart: 1000, windowEnd: 2000, count: 2, early: false, closedAt: 7 },
    ]);
    expect(out.at(-1)).toMatchObject({ type: 'totals', events: 5, late: 1 });
  });

  it('closes the earliest windows early, flagged, when more are open than the cap', async () => {
    const early: number[] = [];
    const query: AggregateQuery = {
      window: { type: 'tumbling', sizeMs: 1000 },
      aggregations: ['count'],
      maxOpenWindows: 2,
    };
    const out = await run(query, [ev(0, 'a', 1), ev(0, 'b', 1), ev(0, 'c', 1), ev(10, 'a', 1)], {
      onClosedEarly: (n) => early.push(n),
    });

    expect(windows(out)).toEqual([
      'a [0,1000) 1 undefined undefined undefined undefined early',
      'b [0,1000) 1 undefined undefined undefined undefined early',
      'a [0,1000) 1 undefined undefined undefined undefined',
      'c [0,1000) 1 undefined undefined undefined undefined',
    ]);
    expect(early).toEqual([1, 1]); // one per input chunk that closed one
    expect(out.at(-1)).toMatchObject({ closedEarly: 2, windows: 4 });
  });

  it('reports malformed events with their offset and goes on', async () => {
    const query: AggregateQuery = { window: { type: 'tumbling', sizeMs: 1000 }, aggregations: ['count'] };
    const out = await run(query, [
      { key: 'a', value: 1 },
      { ts: 'soon', key: 'a', value: 1 },
      { ts: 1, key: 'a', value: 'n/a' },
      { ts: 1, value: 1 },
      ev(1, 'a', 1),
      { query },
      '"a string"',
    ]);

    expect(out.filter((r) => r.type === 'malformed')).toEqual([
      { type: 'malformed', offset: 1, reason: 'ts: missing' },
      { type: 'malformed', offset: 2, reason: 'ts: not a time (soon)' },
      { type: 'malformed', offset: 3, reason: 'value: must be a finite number' },
      { type: 'malformed', offset: 4, reason: 'key: missing' },
      { type: 'malformed', offset: 6, reason: 'query: only in the first record' },
      { type: 'malformed', offset: 7, reason: 'an event must be a JSON object { ts, key, value }' },
    ]);
    expect(out.at(-1)).toEqual({
      type: 'totals',
      events: 1,
      windows: 1,
      late: 0,
      malformed: 6,
      closedEarly: 0,
    });
  });

  it('reads NDJSON bytes cut anywhere the same as records, with byte offsets for bad lines', async () => {
    const text =
      '{"query":{"window":{"type":"tumbling","sizeMs":1000},"aggregations":["count","sum"]}}\n' +
      '{"ts":"1970-01-01T00:00:00.100Z","key":"a","value":2}\r\n' +
      '\n' +
      '{"ts":200,"key":"a",\n' +
      '{"ts":1500,"key":"a","value":3}';
    const bytes = Buffer.from(text);
    const badLineOffset = text.indexOf('{"ts":200');
    const expected = [
      { type: 'malformed', offset: badLineOffset, reason: 'not JSON' },
      {
        type: 'window',
        key: 'a',
        windowStart: 0,
        windowEnd: 1000,
        count: 1,
        sum: 2,
        early: false,
        closedAt: 7,
      },
      {
        type: 'window',
        key: 'a',
        windowStart: 1000,
        windowEnd: 2000,
        count: 1,
        sum: 3,
        early: false,
        closedAt: 7,
      },
      { type: 'totals', events: 2, windows: 2, late: 0, malformed: 1, closedEarly: 0 },
    ];
    for (const size of [1, 7, 64, bytes.length]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      const out: StreamAggregateOutput[] = [];
      for await (const record of aggregateStream(recordsOf(chunks), OPTIONS)) out.push(record);
      expect({ size, out }).toEqual({ size, out: expected });
    }
  });

  it('reads length-prefixed protobuf frames cut anywhere, reporting one that does not decode', async () => {
    const frame = (event: Partial<StreamEvent>): Buffer => {
      const body = StreamEvent.encode(StreamEvent.fromPartial(event)).finish();
      return Buffer.concat([Buffer.from([body.length]), body]);
    };
    const good = [frame({ ts: 100, key: 'a', value: 2 }), frame({ ts: 1500, key: 'a', value: 3 })];
    const bad = Buffer.from([3, 0x08, 0xff, 0xff]); // a varint that runs past the frame's end
    const bytes = Buffer.concat([good[0] as Buffer, bad, good[1] as Buffer]);
    const query = { window: { type: 'tumbling', sizeMs: 1000 }, aggregations: ['count', 'sum'] };
    for (const size of [1, 5, bytes.length]) {
      const chunks: unknown[] = [{ query }];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      const out: StreamAggregateOutput[] = [];
      for await (const r of aggregateStream(recordsOf(chunks), { ...OPTIONS, byteFormat: 'protobuf' }))
        out.push(r);
      expect({
        size,
        out: windows(out),
        malformed: out.filter((r) => r.type === 'malformed').map((r) => r.type === 'malformed' && r.offset),
      }).toEqual({
        size,
        out: [
          'a [0,1000) 1 2 undefined undefined undefined',
          'a [1000,2000) 1 3 undefined undefined undefined',
        ],
        malformed: [(good[0] as Buffer).length],
      });
    }
  });

  it('ends with INVALID_INPUT on a frame length past 1 MiB (frames cannot be resynced)', async () => {
    const prefix = Buffer.from([0x80, 0x80, 0x80, 0x01]); // 2 MiB
    const run = aggregateStream(
      recordsOf([{ query: { window: { type: 'tumbling', sizeMs: 1000 } } }, prefix]),
      {
        ...OPTIONS,
        byteFormat: 'protobuf',
      },
    );
    await expect(run.next()).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('frame at byte 0'),
    });
  });

  it('estimates quantiles within 1 %', async () => {
    const query: AggregateQuery = {
      window: { type: 'tumbling', sizeMs: 1000 },
      aggregations: ['p50', 'p90', 'p99'],
    };
    const values = Array.from({ length: 1000 }, (_, i) => i + 1);
    const out = await run(
      query,
      values.map((v) => ev(v % 1000, 'k', v)),
    );
    const window = out.find((r) => r.type === 'window');

    expect(window).toMatchObject({ count: 1000 });
    for (const [name, exact] of [
      ['p50', 500],
      ['p90', 900],
      ['p99', 990],
    ] as const) {
      const got = (window as unknown as Record<string, number>)[name] ?? Number.NaN;
      expect(Math.abs(got - exact) / exact).toBeLessThanOrEqual(0.01);
    }
  });

  it('sends a heartbeat while the input is idle and no window closes', async () => {
    let release!: () => void;
    const idle = new Promise<void>((resolve) => (release = resolve));
    async function* slow(): AsyncGenerator<never> {
      yield { query: { window: { type: 'tumbling', sizeMs: 1000 } } } as never;
      yield ev(5, 'a', 1) as never;
      await idle;
    }
    const out: StreamAggregateOutput[] = [];
    for await (const record of aggregateStream(slow(), { ...OPTIONS, heartbeatMs: 20, now: Date.now })) {
      out.push(record);
      if (record.type === 'heartbeat') release();
    }

    expect(out[0]).toEqual({ type: 'heartbeat', watermark: 5, openWindows: 1, events: 1 });
    expect(out.map((r) => r.type)).toEqual(['heartbeat', 'window', 'totals']);
  });

  it('refuses a stream without a valid query first, naming the field', async () => {
    await expect(
      run({ window: { type: 'tumbling', sizeMs: 0 } } as AggregateQuery, []),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('/query/window'),
    });
    const noQuery = aggregateStream(recordsOf([ev(1, 'a', 1)]), OPTIONS);
    await expect(noQuery.next()).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('the first record must be'),
    });
  });
});
