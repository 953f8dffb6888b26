import { defineCapability } from '../capability-definition.js';

/** One event of a `stream.aggregate` stream. */
export interface AggregateEvent {
  key: string;
  value: number;
  /** Event time in milliseconds since the epoch; arrival time when absent. */
  timestamp?: number;
}

/** The optional first chunk of a `stream.aggregate` stream: window settings. */
export interface AggregateWindowChunk {
  window: {
    /** Length of each tumbling window. @defaultValue 1000 */
    windowMs?: number;
    /** How long a window stays open for late events after it ends. @defaultValue 0 */
    allowedLatenessMs?: number;
  };
}

/** Input chunk of `stream.aggregate`: an event, or (first only) the window settings. */
export type StreamAggregateInput = AggregateEvent | AggregateWindowChunk;

/** One record of a `stream.aggregate` stream: the aggregate of one key over one window. */
export interface StreamAggregateOutput {
  key: string;
  /** Window start, inclusive, ms since the epoch. */
  windowStart: number;
  /** Window end, exclusive, ms since the epoch. */
  windowEnd: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
}

const KEY_SCHEMA = { type: 'string', minLength: 1, maxLength: 256 };
const EPOCH_MS_SCHEMA = { type: 'integer', minimum: 0 };
const HOUR_MS = 3_600_000;

/** `stream.aggregate@1.0.0`: tumbling-window count, sum, min, max and mean per key over an event stream. */
export const STREAM_AGGREGATE = defineCapability<StreamAggregateInput, StreamAggregateOutput, 'bidi'>({
  id: 'stream.aggregate',
  version: '1.0.0',
  description:
    'Aggregates a live stream of { key, value, timestamp? } events into tumbling windows per key and ' +
    'emits one record per key and window: count, sum, min, max, mean. Windows are windowMs long ' +
    '(default 1000 ms, 100 ms to 1 h) and aligned to the epoch; events without a timestamp take ' +
    'their arrival time. A window is emitted once the latest event time seen passes its end plus ' +
    'allowedLatenessMs (default 0); later events for it are dropped. The caller may send ' +
    '{ window: { windowMs, allowedLatenessMs } } as the first chunk; when the input ends, every open ' +
    'window is emitted.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      key: { ...KEY_SCHEMA, description: 'What to group by, e.g. a sensor id.' },
      value: { type: 'number', description: 'The measurement.' },
      timestamp: {
        ...EPOCH_MS_SCHEMA,
        description: 'Event time, ms since the epoch; arrival time when absent.',
      },
      window: {
        type: 'object',
        additionalProperties: false,
        description: 'Window settings; only in the first chunk, and alone.',
        properties: {
          windowMs: {
            type: 'integer',
            minimum: 100,
            maximum: HOUR_MS,
            default: 1000,
            description: 'Window length.',
          },
          allowedLatenessMs: {
            type: 'integer',
            minimum: 0,
            maximum: HOUR_MS,
            default: 0,
            description: 'How long a window waits for late events after its end.',
          },
        },
      },
    },
    // A chunk is either the settings alone or an event; the `else` keeps event errors to the point.
    if: { required: ['window'] },
    then: { maxProperties: 1 },
    else: { required: ['key', 'value'] },
  },
  outputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['key', 'windowStart', 'windowEnd', 'count', 'sum', 'min', 'max', 'mean'],
    properties: {
      key: { ...KEY_SCHEMA, description: 'The key aggregated.' },
      windowStart: { ...EPOCH_MS_SCHEMA, description: 'Window start, inclusive, ms since the epoch.' },
      windowEnd: { ...EPOCH_MS_SCHEMA, description: 'Window end, exclusive, ms since the epoch.' },
      count: { type: 'integer', minimum: 1, description: 'Events in the window.' },
      sum: { type: 'number', description: 'Sum of the values.' },
      min: { type: 'number', description: 'Smallest value.' },
      max: { type: 'number', description: 'Largest value.' },
      mean: { type: 'number', description: 'sum / count.' },
    },
  },
  errorCodes: ['INVALID_INPUT', 'RESOURCE_EXHAUSTED'],
  streaming: 'bidi',
  resources: { maxConcurrency: 16, memoryMb: 256 },
});
