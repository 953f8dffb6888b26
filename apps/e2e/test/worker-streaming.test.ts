import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CrankClient } from '@crank/controller-client';
import { StreamEvent } from '@crank/proto';
import type { AggregateQuery, StreamAggregateOutput, StreamClassifyOutput } from '@crank/capabilities';
import { SCREENSHOTS, chromiumAvailable, launchChromium } from './chromium.js';
import { Cluster, type RunningProcess } from './harness.js';

const STREAMING_MAIN = join(import.meta.dirname, '../../worker-streaming/dist/main.js');
const CLASSIFIER_MAIN = join(import.meta.dirname, '../../worker-email-classifier/dist/main.js');
const TUMBLING: AggregateQuery = {
  window: { type: 'tumbling', sizeMs: 1000 },
  aggregations: ['count', 'sum', 'min', 'max', 'mean'],
};

/** Two keys over three seconds: known answers per window. */
const EVENTS = [
  { ts: 0, key: 'a', value: 1 },
  { ts: 400, key: 'b', value: 10 },
  { ts: 900, key: 'a', value: 3 },
  { ts: 1100, key: 'a', value: 5 },
  { ts: 2050, key: 'b', value: 20 },
];
const EXPECTED = [
  { key: 'a', windowStart: 0, windowEnd: 1000, count: 2, sum: 4, min: 1, max: 3, mean: 2 },
  { key: 'b', windowStart: 0, windowEnd: 1000, count: 1, sum: 10, min: 10, max: 10, mean: 10 },
  { key: 'a', windowStart: 1000, windowEnd: 2000, count: 1, sum: 5, min: 5, max: 5, mean: 5 },
  { key: 'b', windowStart: 2000, windowEnd: 3000, count: 1, sum: 20, min: 20, max: 20, mean: 20 },
];

const windowsOf = (records: StreamAggregateOutput[]): unknown[] =>
  records.flatMap((r) => {
    if (r.type !== 'window') return [];
    const { type: _type, early: _early, closedAt: _closedAt, ...rest } = r;
    return [rest];
  });

/** `stream.aggregate` through a real controller and worker-streaming process, over gRPC and HTTP. */
describe('worker-streaming', () => {
  let cluster: Cluster;
  let worker: RunningProcess;
  let client: CrankClient;
  let workerHttp: string;

  beforeAll(async () => {
    cluster = await Cluster.start();
    worker = cluster.spawn('streaming', STREAMING_MAIN, { CRANK_DRAIN_MS: '2000' });
    workerHttp = String((await worker.event('worker_started'))['http']);
    await worker.event('registered');
    client = await cluster.client();
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('aggregates JSON records over gRPC: windows as they close, then the totals', async () => {
    const records: StreamAggregateOutput[] = [];
    for await (const record of client.invokeStream<StreamAggregateOutput>('stream.aggregate', [
      { query: TUMBLING },
      ...EVENTS,
    ])) {
      records.push(record);
    }

    expect(windowsOf(records)).toEqual(EXPECTED);
    expect(records.at(-1)).toEqual({
      type: 'totals',
      events: 5,
      windows: 4,
      late: 0,
      malformed: 0,
      closedEarly: 0,
    });
  });

  it('takes NDJSON bytes over gRPC, reporting a bad line by its byte offset and going on', async () => {
    const lines = [JSON.stringify({ query: TUMBLING }), ...EVENTS.map((e) => JSON.stringify(e))];
    lines.splice(3, 0, '{"ts": 950, "key": "a", "value": }');
    const text = lines.join('\n') + '\n';
    const bytes = Buffer.from(text);
    const chunks = [bytes.subarray(0, 50), bytes.subarray(50, 123), bytes.subarray(123)];
    const records: StreamAggregateOutput[] = [];
    for await (const record of client.invokeStream<StreamAggregateOutput>('stream.aggregate', chunks, {
      contentType: 'application/x-ndjson',
    })) {
      records.push(record);
    }

    expect(records.filter((r) => r.type === 'malformed')).toEqual([
      { type: 'malformed', offset: text.indexOf('{"ts": 950'), reason: 'not JSON' },
    ]);
    expect(windowsOf(records)).toEqual(EXPECTED);
  });

  it('takes protobuf StreamEvent frames over gRPC, after the query as JSON', async () => {
    const frames = Buffer.concat(
      EVENTS.map((e) => {
        const body = StreamEvent.encode(StreamEvent.fromPartial(e)).finish();
        return Buffer.concat([Buffer.from([body.length]), body]);
      }),
    );
    const records: StreamAggregateOutput[] = [];
    for await (const record of client.invokeStream<StreamAggregateOutput>(
      'stream.aggregate',
      [{ query: TUMBLING }, frames.subarray(0, 20), frames.subarray(20)],
      { contentType: 'application/x-protobuf' },
    )) {
      records.push(record);
    }

    expect(windowsOf(records)).toEqual(EXPECTED);
    expect(records.at(-1)).toMatchObject({ type: 'totals', events: 5, malformed: 0 });
  });

  it('streams over HTTP: an NDJSON body in, NDJSON records out, late events reported', async () => {
    const query: AggregateQuery = { ...TUMBLING, allowedLatenessMs: 0 };
    const body =
      [{ query }, ...EVENTS, { ts: 500, key: 'a', value: 99 }, { ts: 'later', key: 'a', value: 1 }]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n';
    const res = await fetch(`${cluster.httpUrl}/v1/stream/stream.aggregate`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body,
    });
    const records = (await res.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as StreamAggregateOutput);

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    expect(windowsOf(records)).toEqual(EXPECTED);
    expect(records.filter((r) => r.type === 'late' || r.type === 'malformed')).toEqual([
      { type: 'late', key: 'a', ts: 500, offset: body.indexOf('{"ts":500'), watermark: 2050 },
      { type: 'malformed', offset: body.indexOf('{"ts":"later"'), reason: 'ts: not a time (later)' },
    ]);
    expect(records.at(-1)).toMatchObject({ type: 'totals', late: 1, malformed: 1 });
  });

  it('ends with INVALID_INPUT naming the field when the query is wrong', async () => {
    const stream = client.invokeStream('stream.aggregate', [{ query: { window: { type: 'hopping' } } }]);
    await expect(
      (async () => {
        for await (const _ of stream) {
          // draining
        }
      })(),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('/query/window') });
  });

  it('classifies events through the controller: UNAVAILABLE while no classifier is up, then verdicts', async () => {
    let classifierUp!: () => void;
    const up = new Promise<void>((resolve) => (classifierUp = resolve));
    const records: StreamClassifyOutput[] = [];
    let seenVerdict = false;
    async function* events(): AsyncGenerator<unknown> {
      yield { query: { classifier: 'sentiment', windowMs: 1000, concurrency: 1 } };
      yield { ts: 0, key: 'r1', text: 'What a great, friendly team!' };
      yield { ts: 10, key: 'r2', text: 'Terrible service, I am angry.' };
      await up;
      for (let n = 0; n < 100 && !seenVerdict; n += 1) {
        yield {
          ts: 1000 + n,
          key: `r${n + 3}`,
          text: n % 2 ? 'I love it, wonderful.' : 'This is awful and broken.',
        };
        await sleep(100);
      }
    }
    const reading = (async () => {
      for await (const record of client.invokeStream<StreamClassifyOutput>('stream.classify', events())) {
        records.push(record);
        if (records.filter((r) => r.type === 'unclassified').length === 2) classifierUp();
        if (record.type === 'classified') seenVerdict = true;
      }
    })();
    // Started once the first two events were refused.
    await up;
    const classifier = cluster.spawn('email-classifier', CLASSIFIER_MAIN, { CRANK_DRAIN_MS: '2000' });
    await classifier.event('registered', 30_000);
    await reading;

    expect(records.slice(0, 2)).toEqual([
      expect.objectContaining({ type: 'unclassified', offset: 1, code: 'UNAVAILABLE' }),
      expect.objectContaining({ type: 'unclassified', offset: 2, code: 'UNAVAILABLE' }),
    ]);
    const verdict = records.find((r) => r.type === 'classified');
    expect(verdict).toMatchObject({ label: expect.stringMatching(/^(positive|negative)$/) });
    const labels = records.filter((r) => r.type === 'labels');
    expect(labels[0]).toMatchObject({ windowStart: 0, windowEnd: 1000, unclassified: 2, counts: {} });
    // Events sent while the classifier was starting were refused too; none was lost.
    const totals = records.at(-1) as StreamClassifyOutput & { type: 'totals' };
    expect(totals.type).toBe('totals');
    expect(totals.classified).toBeGreaterThanOrEqual(1);
    expect(totals.classified + totals.unclassified).toBe(totals.events);
  }, 90_000);

  (chromiumAvailable('live view test') ? it : it.skip)(
    'draws a running aggregation live in a browser, at /streams/:id on the worker',
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1000, height: 500 } });
        // The viewer connects first and waits for the stream.
        await page.goto(`${workerHttp}/streams/live-demo`);
        const points = async (): Promise<number> =>
          Number(await page.locator('#chart').getAttribute('data-points'));

        // Event time runs 10x faster than wall time: a window closes every 100 ms.
        async function* events(): AsyncGenerator<unknown> {
          yield { query: { ...TUMBLING, id: 'live-demo' } };
          for (let second = 0; second < 30; second += 1) {
            for (let k = 0; k < 20; k += 1) yield { ts: second * 1000 + k * 10, key: `k${k % 4}`, value: k };
            await sleep(100);
          }
        }
        const stream = client.invokeStream<StreamAggregateOutput>('stream.aggregate', events());
        const records: StreamAggregateOutput[] = [];
        const reading = (async () => {
          for await (const record of stream) records.push(record);
        })();

        // The page's own script keeps the number of bars drawn in data-points.
        const drawn = "Number(document.querySelector('#chart').getAttribute('data-points'))";
        await page.waitForFunction(`${drawn} >= 3`, undefined, { timeout: 10_000 });
        const early = await points();
        await page.waitForFunction(`${drawn} > ${early}`, undefined, { timeout: 10_000 });
        mkdirSync(SCREENSHOTS, { recursive: true });
        await page.screenshot({ path: join(SCREENSHOTS, 'stream-live.png') });
        await reading;
        await page.locator('#state').getByText('ended').waitFor({ timeout: 10_000 });

        expect(await points()).toBe(30);
        expect(await page.locator('#events').textContent()).toBe('600');
        expect(records.filter((r) => r.type === 'window')).toHaveLength(120); // 30 windows x 4 keys
        const listed = (await (await fetch(`${workerHttp}/streams/`)).json()) as {
          streams: { id: string }[];
        };
        expect(listed.streams.map((s) => s.id)).toContain('live-demo');
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
