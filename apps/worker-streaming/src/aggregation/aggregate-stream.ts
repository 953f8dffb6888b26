import {
  CrankError,
  STREAM_AGGREGATE,
  type AggregateQuery,
  type StreamAggregateInput,
  type StreamAggregateOutput,
} from '@crank/capabilities';
import { InputItems, queryOf, type ByteFormat, type InputItem } from '../input-items.js';
import { toEvent } from './stream-event.js';
import { WindowAggregator } from './window-aggregator.js';

/** How `aggregateStream` runs. */
export interface AggregateStreamOptions {
  /** Most windows x keys open at once, whatever the query asks. */
  maxOpenWindows: number;
  /** A heartbeat record goes out when no window closed for this long. */
  heartbeatMs: number;
  /** How byte chunks are read. @default 'ndjson' */
  byteFormat?: ByteFormat;
  /** Told how many windows each input chunk closed early (for a metric). */
  onClosedEarly?: (count: number) => void;
  /** Called with the query once it is read; what it returns sees every record, then the end. */
  observe?: (query: AggregateQuery) => StreamObserver;
  now?: () => number;
}

/** Watches one aggregation (the live view). */
export interface StreamObserver {
  publish(record: StreamAggregateOutput): void;
  close(): void;
}

/**
 * `stream.aggregate`: the query from the first record, then events through a
 * {@link WindowAggregator}. Each input chunk (a JSON record, or NDJSON bytes holding many events)
 * is taken in whole, then the windows it closed go out; the next chunk is asked for only once
 * they are taken, which is the back-pressure. While the input is idle, a heartbeat record says
 * where the stream stands.
 *
 * @throws CrankError INVALID_INPUT when the first record is no valid query
 */
export async function* aggregateStream(
  records: AsyncIterable<StreamAggregateInput | Buffer>,
  options: AggregateStreamOptions,
): AsyncGenerator<StreamAggregateOutput> {
  const now = options.now ?? Date.now;
  const iterator = records[Symbol.asyncIterator]();
  const input = new InputItems(options.byteFormat);
  let aggregator: WindowAggregator | undefined;
  let malformed = 0;
  let lastClose = now();
  let pending: Promise<IteratorResult<StreamAggregateInput | Buffer>> | undefined;
  let observer: StreamObserver | undefined;

  function start(item: InputItem): void {
    if ('malformed' in item) {
      throw new CrankError(
        'INVALID_INPUT',
        `query: the first line is ${item.malformed}; send { "query": ... } first`,
      );
    }
    const query = queryOf(item.record);
    const issues = query === undefined ? [] : STREAM_AGGREGATE.validateInput({ query });
    if (query === undefined || issues.length > 0) {
      const issue = issues[0];
      throw new CrankError(
        'INVALID_INPUT',
        query === undefined
          ? 'query: the first record must be { "query": { "window": ... } }'
          : `${issue?.path || '/query'}: ${issue?.message ?? 'is not a valid query'}`,
        { details: { issues } },
      );
    }
    const q = query as AggregateQuery;
    observer = options.observe?.(q);
    aggregator = new WindowAggregator(
      q,
      Math.min(q.maxOpenWindows ?? options.maxOpenWindows, options.maxOpenWindows),
      now,
    );
  }

  /** Runs one chunk's items; returns the records they produce in input order, due windows last. */
  function take(items: Iterable<InputItem>): StreamAggregateOutput[] {
    const earlyBefore = aggregator?.counts.closedEarly ?? 0;
    const out: StreamAggregateOutput[] = [];
    for (const item of items) {
      if (!aggregator) {
        start(item);
        continue;
      }
      if ('malformed' in item) {
        malformed += 1;
        out.push({ type: 'malformed', offset: item.offset, reason: item.malformed });
        continue;
      }
      const event = toEvent(item.record);
      if ('malformed' in event) {
        malformed += 1;
        const reason =
          queryOf(item.record) !== undefined ? 'query: only in the first record' : event.malformed;
        out.push({ type: 'malformed', offset: item.offset, reason });
        continue;
      }
      aggregator.add(event, item.offset, out);
    }
    aggregator?.closeDue(out);
    const early = (aggregator?.counts.closedEarly ?? 0) - earlyBefore;
    if (early > 0) options.onClosedEarly?.(early);
    return out;
  }

  function seen(record: StreamAggregateOutput): StreamAggregateOutput {
    observer?.publish(record);
    return record;
  }

  try {
    for (;;) {
      pending ??= iterator.next();
      const waitMs = Math.max(0, options.heartbeatMs - (now() - lastClose));
      const next = await untilOrTimeout(pending, waitMs);
      if (next === 'timeout') {
        lastClose = now();
        yield seen({
          type: 'heartbeat',
          watermark: aggregator?.watermark ?? null,
          openWindows: aggregator?.openWindows ?? 0,
          events: aggregator?.counts.events ?? 0,
        });
        continue;
      }
      pending = undefined;
      const records = take(next.done ? input.end() : input.of(next.value));
      for (const record of records) {
        if (record.type === 'window') lastClose = now();
        yield seen(record);
      }
      if (next.done) break;
    }
    if (!aggregator)
      throw new CrankError('INVALID_INPUT', 'query: the stream ended before its { "query": ... } record');
    const rest: StreamAggregateOutput[] = [];
    aggregator.closeAll(rest);
    for (const record of rest) yield seen(record);
    const { events, windows, late, closedEarly } = aggregator.counts;
    yield seen({ type: 'totals', events, windows, late, malformed, closedEarly });
  } finally {
    observer?.close();
    await iterator.return?.();
  }
}

/** `promise`'s result, or `'timeout'` after `ms` (the promise is left to a later wait). */
async function untilOrTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
