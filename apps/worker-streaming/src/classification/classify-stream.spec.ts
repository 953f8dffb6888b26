import { describe, expect, it } from '@jest/globals';
import { CrankError, type StreamClassifyOutput } from '@crank/capabilities';
import { classifyStream, type Classify } from './classify-stream.js';

async function* recordsOf(items: unknown[]): AsyncGenerator<never> {
  for (const item of items) yield item as never;
}

async function collect(source: AsyncIterable<StreamClassifyOutput>): Promise<StreamClassifyOutput[]> {
  const out: StreamClassifyOutput[] = [];
  for await (const record of source) out.push(record);
  return out;
}

/** A classifier that labels by a word in the text, after `delayMs` (to shuffle completion order). */
const byWord =
  (delayMs: (text: string) => number = () => 0): Classify =>
  async (_classifier, text) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs(text)));
    return text.includes('good') ? { label: 'positive', score: 0.8 } : { label: 'negative', score: -0.5 };
  };

describe('classifyStream', () => {
  it('answers each event in input order, whatever order the calls finish in, with label counts per window', async () => {
    const out = await collect(
      classifyStream(
        recordsOf([
          { query: { classifier: 'sentiment', windowMs: 1000, concurrency: 4 } },
          { ts: 0, key: 'a', text: 'good day' },
          { ts: 100, key: 'b', text: 'bad day' },
          { ts: 900, text: 'so good' },
          { ts: 1500, fields: { text: 'good again' } },
        ]),
        byWord((text) => (text === 'good day' ? 30 : 0)),
      ),
    );

    expect(out).toEqual([
      { type: 'classified', offset: 1, event: { ts: 0, key: 'a' }, label: 'positive', score: 0.8 },
      { type: 'classified', offset: 2, event: { ts: 100, key: 'b' }, label: 'negative', score: -0.5 },
      { type: 'classified', offset: 3, event: { ts: 900 }, label: 'positive', score: 0.8 },
      { type: 'classified', offset: 4, event: { ts: 1500 }, label: 'positive', score: 0.8 },
      {
        type: 'labels',
        windowStart: 0,
        windowEnd: 1000,
        counts: { positive: 2, negative: 1 },
        unclassified: 0,
      },
      { type: 'labels', windowStart: 1000, windowEnd: 2000, counts: { positive: 1 }, unclassified: 0 },
      {
        type: 'totals',
        events: 4,
        classified: 4,
        unclassified: 0,
        malformed: 0,
        counts: { positive: 3, negative: 1 },
      },
    ]);
  });

  it('says UNAVAILABLE per event while no classifier answers, and resumes when one does', async () => {
    let up = false;
    const classify: Classify = async (classifier, text) => {
      if (!up) throw new CrankError('UNAVAILABLE', 'no worker offers classify.sentiment now');
      return byWord()(classifier, text);
    };
    async function* events(): AsyncGenerator<never> {
      yield { query: { classifier: 'sentiment', concurrency: 1 } } as never;
      yield { ts: 1, text: 'good' } as never;
      yield { ts: 2, text: 'good' } as never;
      up = true;
      yield { ts: 3, text: 'good' } as never;
    }

    const out = await collect(classifyStream(events(), classify));

    expect(out.map((r) => (r.type === 'unclassified' ? r.code : r.type))).toEqual([
      'UNAVAILABLE',
      'UNAVAILABLE',
      'classified',
      'labels',
      'totals',
    ]);
    expect(out.at(-1)).toMatchObject({ unclassified: 2, classified: 1 });
    expect(out.find((r) => r.type === 'labels')).toMatchObject({ counts: { positive: 1 }, unclassified: 2 });
  });

  it('sends a verdict while the input is idle, without waiting for more events', async () => {
    let release!: () => void;
    const idle = new Promise<void>((resolve) => (release = resolve));
    async function* events(): AsyncGenerator<never> {
      yield { query: { classifier: 'sentiment' } } as never;
      yield { ts: 1, text: 'good' } as never;
      await idle;
    }
    const out: StreamClassifyOutput[] = [];
    for await (const record of classifyStream(events(), byWord())) {
      out.push(record);
      if (record.type === 'classified') release();
    }
    expect(out.map((r) => r.type)).toEqual(['classified', 'labels', 'totals']);
  });

  it('reports malformed events and goes on; refuses a stream without a query', async () => {
    const out = await collect(
      classifyStream(
        recordsOf([
          Buffer.from(
            '{"query":{"classifier":"email","textField":"body"}}\n{"ts":1}\nnot json\n{"ts":2,"body":"good"}',
          ),
        ]),
        byWord(),
      ),
    );
    expect(out.filter((r) => r.type === 'malformed')).toEqual([
      { type: 'malformed', offset: 52, reason: 'body: missing or not a string' },
      { type: 'malformed', offset: 61, reason: 'not JSON' },
    ]);
    expect(out.at(-1)).toMatchObject({ type: 'totals', events: 1, classified: 1, malformed: 2 });

    await expect(collect(classifyStream(recordsOf([{ ts: 1, text: 'x' }]), byWord()))).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });
});
