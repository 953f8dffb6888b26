import { defineBuiltinCapability } from '../capability-definition.js';

/** One event of a `stream.aggregate` stream. */
export interface AggregateEvent {
  /** Event time: ms since the epoch, or an ISO 8601 string. */
  ts: number | string;
  /** What to group by, e.g. a sensor id. */
  key: string;
  /** The measurement. */
  value: number;
  /** Anything else the event carries; passed over. */
  fields?: Record<string, unknown>;
}

/** How events are cut into windows, by event time. */
export type AggregateWindow =
  | { type: 'tumbling'; sizeMs: number }
  | { type: 'sliding'; sizeMs: number; slideMs: number }
  | { type: 'session'; gapMs: number };

/** What each window record carries. */
export type AggregationName = 'count' | 'sum' | 'min' | 'max' | 'mean' | 'p50' | 'p90' | 'p99';

/** The query of a `stream.aggregate` stream, sent once as its first record (or first NDJSON line). */
export interface AggregateQuery {
  window: AggregateWindow;
  /** Aggregations per window and key. @defaultValue all of them */
  aggregations?: AggregationName[];
  /** How long after its end (in event time) a window still takes events. @defaultValue 0 */
  allowedLatenessMs?: number;
  /**
   * Most windows x keys open at once; past it the oldest are closed early (flagged). The worker's
   * own cap (CRANK_STREAM_MAX_OPEN) bounds it.
   */
  maxOpenWindows?: number;
  /** A name for the live view (`/streams/<id>` on the worker). @defaultValue the request id */
  id?: string;
}

/** Input of `stream.aggregate`: the query first, then events. */
export type StreamAggregateInput = { query: AggregateQuery } | AggregateEvent;

/** A closed window of one key. */
export interface AggregateWindowRecord {
  type: 'window';
  key: string;
  /** Window start, inclusive, and end, exclusive; ms since the epoch. */
  windowStart: number;
  windowEnd: number;
  count: number;
  sum?: number;
  min?: number;
  max?: number;
  mean?: number;
  /** Quantiles from a DDSketch (1% relative accuracy). */
  p50?: number;
  p90?: number;
  p99?: number;
  /** Closed before the watermark reached it, because too many windows were open. */
  early: boolean;
  /** Wall-clock time the worker closed it, ms since the epoch. */
  closedAt: number;
}

/** An event that came after its window had closed: counted, reported, not aggregated. */
export interface AggregateLateRecord {
  type: 'late';
  key: string;
  ts: number;
  /** Where it was in the input: byte offset of its line (NDJSON bytes), else its record index. */
  offset: number;
  /** The watermark when it came. */
  watermark: number;
}

/** Input that is no event (bad JSON, no ts, value not a number): counted, reported, skipped. */
export interface AggregateMalformedRecord {
  type: 'malformed';
  offset: number;
  reason: string;
}

/** Sent when no window closed for a second: the stream is alive, and where it stands. */
export interface AggregateHeartbeatRecord {
  type: 'heartbeat';
  /** Largest event time seen; null before the first event. */
  watermark: number | null;
  openWindows: number;
  events: number;
}

/** Last record of the stream. */
export interface AggregateTotalsRecord {
  type: 'totals';
  events: number;
  windows: number;
  late: number;
  malformed: number;
  closedEarly: number;
}

/** One record of a `stream.aggregate` stream. */
export type StreamAggregateOutput =
  | AggregateWindowRecord
  | AggregateLateRecord
  | AggregateMalformedRecord
  | AggregateHeartbeatRecord
  | AggregateTotalsRecord;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const AGGREGATIONS: AggregationName[] = ['count', 'sum', 'min', 'max', 'mean', 'p50', 'p90', 'p99'];
const WINDOW_LENGTH = { type: 'integer', minimum: 1, maximum: DAY_MS };

const QUERY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['window'],
  description: 'The windows, aggregations, allowed lateness, cap on open windows and live-view id.',
  properties: {
    window: {
      description: 'tumbling { sizeMs }, sliding { sizeMs, slideMs } or session { gapMs }.',
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'sizeMs'],
          properties: { type: { const: 'tumbling' }, sizeMs: WINDOW_LENGTH },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'sizeMs', 'slideMs'],
          properties: { type: { const: 'sliding' }, sizeMs: WINDOW_LENGTH, slideMs: WINDOW_LENGTH },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'gapMs'],
          properties: { type: { const: 'session' }, gapMs: WINDOW_LENGTH },
        },
      ],
    },
    aggregations: {
      type: 'array',
      items: { enum: AGGREGATIONS },
      minItems: 1,
      uniqueItems: true,
      description: 'Default: all.',
    },
    allowedLatenessMs: {
      type: 'integer',
      minimum: 0,
      maximum: DAY_MS,
      default: 0,
      description: 'How long after its end a window still takes events.',
    },
    maxOpenWindows: { type: 'integer', minimum: 1, description: 'Windows x keys open at once.' },
    id: {
      type: 'string',
      pattern: '^[A-Za-z0-9_-]{1,64}$',
      description: "Name of the live view, /streams/<id> on the worker's HTTP port; default the request id.",
    },
  },
};

/**
 * `stream.aggregate@2.0.0`: event-time windows (tumbling, sliding, session) per key with
 * watermarks, allowed lateness, quantile sketches and a cap on open windows; late and malformed
 * events are reported, never dropped silently. 2.0.0 replaced 1.0.0's tumbling-only settings
 * chunk and silent drops.
 */
export const STREAM_AGGREGATE = defineBuiltinCapability<
  StreamAggregateInput | Buffer,
  StreamAggregateOutput,
  'bidi'
>({
  id: 'stream.aggregate',
  version: '2.0.0',
  description:
    'Aggregates a live stream of { ts, key, value, fields? } events per key in event-time windows: ' +
    'tumbling, sliding or session, given once by a first { query } record (or NDJSON line). A ' +
    'window closes, and its record { type: "window", count, sum, min, max, mean, p50, p90, p99 } ' +
    'is sent, when the watermark (the largest event time seen) passes its end plus ' +
    'allowedLatenessMs. Events for a closed window are reported ({ type: "late" }), input that ' +
    'is no event ({ type: "malformed", offset, reason }), and the stream goes on. A heartbeat ' +
    'record comes when no window closed for a second; past maxOpenWindows the oldest windows ' +
    'close early (early: true). When the input ends every open window closes, then a totals ' +
    'record. Input: JSON records, or NDJSON bytes (application/x-ndjson) or length-prefixed crank.v1.StreamEvent protobuf frames ' +
    '(application/x-protobuf, after the query as a JSON record), where a bad line or frame is ' +
    'reported, not fatal. inputSchema describes the query record; events are checked by the worker.',
  inputMediaTypes: ['application/x-ndjson', 'application/x-protobuf'],
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    description:
      'The first record: { query }. Later records: events { ts, key, value, fields? }; anything ' +
      'else an event carries goes in fields.',
    properties: {
      query: QUERY_SCHEMA,
      // Untyped on purpose: an event with a bad field is reported by the worker, and the
      // stream goes on, where a schema error would end it.
      ts: { description: 'Event time: ms since the epoch, or ISO 8601.' },
      key: { description: 'What to group by (a string).' },
      value: { description: 'The measurement (a number).' },
      fields: { description: 'Anything else; passed over.' },
    },
  },
  outputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['type'],
    properties: {
      type: {
        enum: ['window', 'late', 'malformed', 'heartbeat', 'totals'],
        description: 'What the record is.',
      },
      key: { type: 'string', description: 'window, late: the key.' },
      windowStart: { type: 'number', description: 'window: start, inclusive, ms since the epoch.' },
      windowEnd: { type: 'number', description: 'window: end, exclusive, ms since the epoch.' },
      count: { type: 'integer', minimum: 0, description: 'window: events in it.' },
      sum: { type: 'number', description: 'window: sum of the values.' },
      min: { type: 'number', description: 'window: smallest value.' },
      max: { type: 'number', description: 'window: largest value.' },
      mean: { type: 'number', description: 'window: sum / count.' },
      p50: { type: 'number', description: 'window: median, from a DDSketch (1 % relative accuracy).' },
      p90: { type: 'number', description: 'window: 90th percentile.' },
      p99: { type: 'number', description: 'window: 99th percentile.' },
      early: { type: 'boolean', description: 'window: closed before its time, by the cap on open windows.' },
      closedAt: { type: 'number', description: 'window: when the worker closed it, ms since the epoch.' },
      ts: { type: 'number', description: 'late: the event time.' },
      offset: {
        type: 'integer',
        minimum: 0,
        description: 'late, malformed: byte offset of its line or frame, or its record index.',
      },
      watermark: { type: ['number', 'null'], description: 'late, heartbeat: the largest event time seen.' },
      reason: { type: 'string', description: 'malformed: why it is no event.' },
      openWindows: { type: 'integer', minimum: 0, description: 'heartbeat: windows x keys open.' },
      events: { type: 'integer', minimum: 0, description: 'heartbeat, totals: events taken.' },
      windows: { type: 'integer', minimum: 0, description: 'totals: windows closed.' },
      late: { type: 'integer', minimum: 0, description: 'totals: late events.' },
      malformed: { type: 'integer', minimum: 0, description: 'totals: malformed inputs.' },
      closedEarly: { type: 'integer', minimum: 0, description: 'totals: windows closed early.' },
    },
  },
  errorCodes: ['INVALID_INPUT', 'RESOURCE_EXHAUSTED'],
  streaming: 'bidi',
  resources: { maxConcurrency: 16, memoryMb: 300 },
});
