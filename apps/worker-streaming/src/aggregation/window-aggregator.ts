import type {
  AggregateLateRecord,
  AggregateQuery,
  AggregateWindowRecord,
  AggregationName,
} from '@crank/capabilities';
import { Accumulator } from './accumulator.js';
import type { StreamEvent } from './stream-event.js';

const ALL_AGGREGATIONS: AggregationName[] = ['count', 'sum', 'min', 'max', 'mean', 'p50', 'p90', 'p99'];

/** A session of one key: events no more than `gapMs` apart. Ends `gapMs` after its last event. */
interface Session {
  start: number;
  last: number;
  acc: Accumulator;
}

/** Where records go, in the order they happen: windows closed (early, or due) and late events. */
export interface Sink {
  push(record: AggregateWindowRecord | AggregateLateRecord): unknown;
}

/** What the aggregator has done so far. */
export interface AggregatorCounts {
  events: number;
  windows: number;
  late: number;
  closedEarly: number;
}

/**
 * Event-time windows per key. Events go in with {@link add}; {@link closeDue} hands back the
 * windows the watermark (the largest event time seen) has passed, end plus allowed lateness;
 * {@link closeAll} the rest when the input ends. An event whose every window has closed is late:
 * reported, not aggregated.
 *
 * Tumbling and sliding windows are aligned to the epoch, so all keys share a few window ends:
 * open windows are kept by end, and closing takes the smallest ends first. Sessions are kept per
 * key. At most `maxOpen` windows x keys are open; past it the earliest-ending close early.
 */
export class WindowAggregator {
  readonly counts: AggregatorCounts = { events: 0, windows: 0, late: 0, closedEarly: 0 };
  private readonly names: ReadonlySet<AggregationName>;
  private readonly quantiles: boolean;
  private readonly lateness: number;
  /** Tumbling or sliding: open windows by end, then by key; `ends` sorted ascending. */
  private readonly byEnd = new Map<number, Map<string, Accumulator>>();
  private readonly ends: number[] = [];
  /** Session windows: each key's open sessions, in start order. */
  private readonly sessions = new Map<string, Session[]>();
  private open = 0;
  private watermark_: number | undefined;

  constructor(
    private readonly query: AggregateQuery,
    private readonly maxOpen: number,
    private readonly now: () => number = Date.now,
  ) {
    this.names = new Set(query.aggregations ?? ALL_AGGREGATIONS);
    this.quantiles = ['p50', 'p90', 'p99'].some((q) => this.names.has(q as AggregationName));
    this.lateness = query.allowedLatenessMs ?? 0;
  }

  /** The largest event time seen; undefined before the first event. */
  get watermark(): number | undefined {
    return this.watermark_;
  }

  /** Windows x keys open now. */
  get openWindows(): number {
    return this.open;
  }

  /**
   * Adds an event. Returns a late record when every window it belongs to has closed, and the
   * windows closed early to make room, if any.
   */
  add(event: StreamEvent, offset: number, out: Sink): void {
    this.counts.events += 1;
    if (this.watermark_ === undefined || event.ts > this.watermark_) this.watermark_ = event.ts;
    const accepted =
      this.query.window.type === 'session' ? this.addToSession(event, out) : this.addToWindows(event, out);
    if (!accepted) {
      this.counts.late += 1;
      out.push({ type: 'late', key: event.key, ts: event.ts, offset, watermark: this.watermark_ });
    }
  }

  /** Closes the windows the watermark has passed (end + allowed lateness), earliest end first. */
  closeDue(out: Sink): void {
    if (this.watermark_ === undefined) return;
    this.closeUpTo(this.watermark_ - this.lateness, out);
  }

  /** Closes every open window (the input ended). */
  closeAll(out: Sink): void {
    this.closeUpTo(Number.POSITIVE_INFINITY, out);
  }

  private closed(end: number): boolean {
    return this.watermark_ !== undefined && end + this.lateness <= this.watermark_;
  }

  private addToWindows(event: StreamEvent, out: Sink): boolean {
    const window = this.query.window;
    const size = window.type === 'sliding' ? window.sizeMs : window.type === 'tumbling' ? window.sizeMs : 0;
    const slide = window.type === 'sliding' ? window.slideMs : size;
    // Windows [s, s + size) with s a multiple of slide and s <= ts < s + size.
    let accepted = false;
    for (let start = Math.floor(event.ts / slide) * slide; start > event.ts - size; start -= slide) {
      const end = start + size;
      if (this.closed(end)) continue;
      accepted = true;
      let keys = this.byEnd.get(end);
      if (!keys) {
        keys = new Map();
        this.byEnd.set(end, keys);
        insertSorted(this.ends, end);
      }
      let acc = keys.get(event.key);
      if (!acc) {
        this.makeRoom(out);
        acc = new Accumulator(this.quantiles);
        keys.set(event.key, acc);
        this.open += 1;
      }
      acc.add(event.value);
    }
    return accepted;
  }

  private addToSession(event: StreamEvent, out: Sink): boolean {
    const gap = this.query.window.type === 'session' ? this.query.window.gapMs : 0;
    const list = this.sessions.get(event.key) ?? [];
    // The open sessions the event touches: it falls within `gap` of them.
    const touched = list.filter((s) => event.ts >= s.start - gap && event.ts < s.last + gap);
    if (touched.length === 0) {
      if (this.closed(event.ts + gap)) return false;
      this.makeRoom(out);
      const acc = new Accumulator(this.quantiles);
      acc.add(event.value);
      const session = { start: event.ts, last: event.ts, acc };
      const at = list.findIndex((s) => s.start > event.ts);
      list.splice(at < 0 ? list.length : at, 0, session);
      this.sessions.set(event.key, list);
      this.open += 1;
      return true;
    }
    const [first, ...rest] = touched as [Session, ...Session[]];
    first.acc.add(event.value);
    first.start = Math.min(first.start, event.ts);
    first.last = Math.max(first.last, event.ts);
    for (const other of rest) {
      first.acc.merge(other.acc);
      first.start = Math.min(first.start, other.start);
      first.last = Math.max(first.last, other.last);
      list.splice(list.indexOf(other), 1);
      this.open -= 1;
    }
    return true;
  }

  /** Closes the earliest-ending windows early until one more fits under the cap. */
  private makeRoom(out: Sink): void {
    while (this.open >= this.maxOpen) {
      if (this.query.window.type === 'session') this.closeEarliestSession(out);
      else this.closeEarliestWindow(out);
    }
  }

  private closeEarliestWindow(out: Sink): void {
    const end = this.ends[0];
    if (end === undefined) return;
    const keys = this.byEnd.get(end);
    const first = keys?.keys().next();
    if (!keys || !first || first.done) return;
    const key = first.value;
    const acc = keys.get(key);
    keys.delete(key);
    if (keys.size === 0) {
      this.byEnd.delete(end);
      this.ends.shift();
    }
    if (acc) this.emit(key, end - this.sizeOf(), end, acc, true, out);
  }

  private closeEarliestSession(out: Sink): void {
    let best: { key: string; session: Session } | undefined;
    for (const [key, list] of this.sessions) {
      for (const session of list) {
        if (!best || session.last < best.session.last) best = { key, session };
      }
    }
    if (!best) return;
    const list = this.sessions.get(best.key) ?? [];
    list.splice(list.indexOf(best.session), 1);
    if (list.length === 0) this.sessions.delete(best.key);
    this.emitSession(best.key, best.session, true, out);
  }

  private closeUpTo(limit: number, out: Sink): void {
    if (this.query.window.type === 'session') {
      const gap = this.query.window.gapMs;
      const due: { key: string; session: Session }[] = [];
      for (const [key, list] of this.sessions) {
        const keep = list.filter((session) => {
          if (session.last + gap > limit) return true;
          due.push({ key, session });
          return false;
        });
        if (keep.length === 0) this.sessions.delete(key);
        else if (keep.length !== list.length) this.sessions.set(key, keep);
      }
      due.sort((a, b) => a.session.last - b.session.last || compare(a.key, b.key));
      for (const { key, session } of due) this.emitSession(key, session, false, out);
      return;
    }
    const size = this.sizeOf();
    while (this.ends.length > 0 && (this.ends[0] as number) <= limit) {
      const end = this.ends.shift() as number;
      const keys = this.byEnd.get(end);
      this.byEnd.delete(end);
      if (!keys) continue;
      for (const key of [...keys.keys()].sort(compare)) {
        this.emit(key, end - size, end, keys.get(key) as Accumulator, false, out);
      }
    }
  }

  private sizeOf(): number {
    const window = this.query.window;
    return window.type === 'session' ? 0 : window.sizeMs;
  }

  private emitSession(key: string, session: Session, early: boolean, out: Sink): void {
    const gap = this.query.window.type === 'session' ? this.query.window.gapMs : 0;
    this.emit(key, session.start, session.last + gap, session.acc, early, out);
  }

  private emit(
    key: string,
    windowStart: number,
    windowEnd: number,
    acc: Accumulator,
    early: boolean,
    out: Sink,
  ): void {
    this.open -= 1;
    this.counts.windows += 1;
    if (early) this.counts.closedEarly += 1;
    out.push({
      type: 'window',
      key,
      windowStart,
      windowEnd,
      ...(acc.result(this.names) as { count: number }),
      early,
      closedAt: this.now(),
    });
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Inserts `value` into the ascending `list` (window ends: few, mostly appended). */
function insertSorted(list: number[], value: number): void {
  let i = list.length;
  while (i > 0 && (list[i - 1] as number) > value) i -= 1;
  list.splice(i, 0, value);
}
