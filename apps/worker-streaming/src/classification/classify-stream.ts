import {
  CrankError,
  STREAM_CLASSIFY,
  type ClassifyQuery,
  type StreamClassifyInput,
  type StreamClassifyOutput,
} from '@crank/capabilities';
import { InputItems, queryOf, type ByteFormat, type InputItem } from '../input-items.js';

/** What a classifier answers for one text. */
export interface Verdict {
  label: string;
  score: number;
}

/** Calls the classifier a query names; rejects with the call's CrankError. */
export type Classify = (classifier: ClassifyQuery['classifier'], text: string) => Promise<Verdict>;

/** An event ready to classify. */
interface PendingEvent {
  offset: number;
  event: { ts: number; key?: string };
  verdict: Promise<Verdict | CrankError>;
}

const DEFAULT_WINDOW_MS = 60_000;
const DEFAULT_CONCURRENCY = 8;
/** Longest text sent to a classifier. */
const MAX_TEXT_CHARS = 100_000;

/**
 * `stream.classify`: each event's text goes to the classifier the query names (through the
 * controller, by `classify`), up to `concurrency` calls at once; the verdicts go out in input
 * order. A call that fails says so for its event (`unclassified`, with the code: UNAVAILABLE
 * while no classifier is registered), and the next events are tried again, so the stream
 * resumes by itself when one registers. Label counts are kept per tumbling window of event time
 * and sent as each window closes (the largest event time passed its end).
 *
 * @throws CrankError INVALID_INPUT when the first record is no valid query
 */
export async function* classifyStream(
  records: AsyncIterable<StreamClassifyInput | Buffer>,
  classify: Classify,
  byteFormat: ByteFormat = 'ndjson',
): AsyncGenerator<StreamClassifyOutput> {
  const input = new InputItems(byteFormat);
  let query: Required<ClassifyQuery> | undefined;
  const pending: PendingEvent[] = [];
  const windows = new Map<number, { counts: Record<string, number>; unclassified: number }>();
  const totals = {
    events: 0,
    classified: 0,
    unclassified: 0,
    malformed: 0,
    counts: {} as Record<string, number>,
  };
  let watermark = Number.NEGATIVE_INFINITY;

  function start(item: InputItem): void {
    const q = 'record' in item ? queryOf(item.record) : undefined;
    const issues = q === undefined ? [] : STREAM_CLASSIFY.validateInput({ query: q });
    if (q === undefined || issues.length > 0) {
      throw new CrankError(
        'INVALID_INPUT',
        q === undefined
          ? 'query: the first record must be { "query": { "classifier": "sentiment" | "email" } }'
          : `${issues[0]?.path || '/query'}: ${issues[0]?.message ?? 'is not a valid query'}`,
        { details: { issues } },
      );
    }
    const given = q as ClassifyQuery;
    query = {
      classifier: given.classifier,
      textField: given.textField ?? 'text',
      windowMs: given.windowMs ?? DEFAULT_WINDOW_MS,
      concurrency: given.concurrency ?? DEFAULT_CONCURRENCY,
    };
  }

  /** The event of an item, queued for its verdict, or a malformed record. */
  function accept(item: InputItem, q: Required<ClassifyQuery>): StreamClassifyOutput | undefined {
    const problem = (reason: string): StreamClassifyOutput => {
      totals.malformed += 1;
      return { type: 'malformed', offset: item.offset, reason };
    };
    if ('malformed' in item) return problem(item.malformed);
    const record = item.record;
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      return problem('an event must be a JSON object { ts, key?, text }');
    }
    if (queryOf(record) !== undefined) return problem('query: only in the first record');
    const { ts, key, fields } = record as Record<string, unknown>;
    const time = typeof ts === 'number' ? ts : typeof ts === 'string' ? Date.parse(ts) : Number.NaN;
    if (!Number.isFinite(time)) return problem(ts === undefined ? 'ts: missing' : 'ts: not a time');
    const text =
      (record as Record<string, unknown>)[q.textField] ??
      (typeof fields === 'object' && fields !== null
        ? (fields as Record<string, unknown>)[q.textField]
        : undefined);
    if (typeof text !== 'string' || text.trim() === '')
      return problem(`${q.textField}: missing or not a string`);
    totals.events += 1;
    const event = { ts: time, ...(typeof key === 'string' ? { key } : {}) };
    pending.push({
      offset: item.offset,
      event,
      verdict: classify(q.classifier, text.slice(0, MAX_TEXT_CHARS)).catch((error: unknown) =>
        error instanceof CrankError ? error : new CrankError('INTERNAL', String(error)),
      ),
    });
    return undefined;
  }

  /** The verdict of the oldest pending event as its record, counted in its window. */
  async function settle(q: Required<ClassifyQuery>): Promise<StreamClassifyOutput> {
    const next = pending.shift() as PendingEvent;
    const verdict = await next.verdict;
    const start = Math.floor(next.event.ts / q.windowMs) * q.windowMs;
    let window = windows.get(start);
    if (!window) {
      window = { counts: {}, unclassified: 0 };
      windows.set(start, window);
    }
    if (next.event.ts > watermark) watermark = next.event.ts;
    if (verdict instanceof CrankError) {
      totals.unclassified += 1;
      window.unclassified += 1;
      return {
        type: 'unclassified',
        offset: next.offset,
        event: next.event,
        code: verdict.code,
        message: verdict.message,
      };
    }
    totals.classified += 1;
    window.counts[verdict.label] = (window.counts[verdict.label] ?? 0) + 1;
    totals.counts[verdict.label] = (totals.counts[verdict.label] ?? 0) + 1;
    return {
      type: 'classified',
      offset: next.offset,
      event: next.event,
      label: verdict.label,
      score: verdict.score,
    };
  }

  /** Label windows whose end the watermark passed (all of them at the end), oldest first. */
  function closeWindows(q: Required<ClassifyQuery>, all: boolean): StreamClassifyOutput[] {
    const out: StreamClassifyOutput[] = [];
    for (const start of [...windows.keys()].sort((a, b) => a - b)) {
      if (!all && start + q.windowMs > watermark) break;
      const window = windows.get(start) as { counts: Record<string, number>; unclassified: number };
      windows.delete(start);
      out.push({ type: 'labels', windowStart: start, windowEnd: start + q.windowMs, ...window });
    }
    return out;
  }

  // A verdict goes out as soon as it and those before it are in, even while the input is idle:
  // wait for whichever comes first, the next chunk or the oldest verdict.
  const iterator = records[Symbol.asyncIterator]();
  try {
    let nextChunk: Promise<IteratorResult<StreamClassifyInput | Buffer>> | undefined;
    for (;;) {
      nextChunk ??= iterator.next();
      const head = pending[0];
      const first = head
        ? await Promise.race([
            nextChunk.then((chunk) => ({ chunk })),
            head.verdict.then(() => 'verdict' as const),
          ])
        : { chunk: await nextChunk };
      if (first === 'verdict') {
        yield await settle(query as Required<ClassifyQuery>);
        yield* closeWindows(query as Required<ClassifyQuery>, false);
        continue;
      }
      nextChunk = undefined;
      if (first.chunk.done) break;
      for (const item of input.of(first.chunk.value)) {
        if (!query) {
          start(item);
          continue;
        }
        const malformed = accept(item, query);
        if (malformed) yield malformed;
        // At most `concurrency` calls in flight: wait for the oldest before reading on.
        while (pending.length >= query.concurrency) {
          yield await settle(query);
          yield* closeWindows(query, false);
        }
      }
    }
  } finally {
    await iterator.return?.();
  }
  for (const item of input.end()) {
    if (!query) start(item);
    else {
      const malformed = accept(item, query);
      if (malformed) yield malformed;
    }
  }
  if (!query)
    throw new CrankError('INVALID_INPUT', 'query: the stream ended before its { "query": ... } record');
  while (pending.length > 0) {
    yield await settle(query);
    yield* closeWindows(query, false);
  }
  yield* closeWindows(query, true);
  yield { type: 'totals', ...totals };
}
