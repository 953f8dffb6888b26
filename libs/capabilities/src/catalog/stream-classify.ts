import { defineBuiltinCapability } from '../capability-definition.js';

/** The query of a `stream.classify` stream, its first record. */
export interface ClassifyQuery {
  /** Which classifier each event's text goes to: `classify.sentiment` or `classify.email`. */
  classifier: 'sentiment' | 'email';
  /** Field of the event holding the text (also looked up in `fields`). @defaultValue 'text' */
  textField?: string;
  /** Label counts are kept per tumbling window of this length, in event time. @defaultValue 60000 */
  windowMs?: number;
  /** Calls to the classifier in flight at once. @defaultValue 8 */
  concurrency?: number;
}

/** An event of a `stream.classify` stream. */
export interface ClassifyEvent {
  /** Event time: ms since the epoch, or ISO 8601. */
  ts: number | string;
  key?: string;
  text?: string;
  fields?: Record<string, unknown>;
}

/** Input of `stream.classify`: the query first, then events. */
export type StreamClassifyInput = { query: ClassifyQuery } | ClassifyEvent;

/** One event's verdict, in input order. */
export interface ClassifiedRecord {
  type: 'classified';
  offset: number;
  event: { ts: number; key?: string };
  label: string;
  score: number;
}

/** An event the classifier could not take now (none registered, busy): said per event. */
export interface UnclassifiedRecord {
  type: 'unclassified';
  offset: number;
  event: { ts: number; key?: string };
  code: string;
  message: string;
}

/** Label counts of one closed window. */
export interface LabelWindowRecord {
  type: 'labels';
  windowStart: number;
  windowEnd: number;
  counts: Record<string, number>;
  unclassified: number;
}

/** Input that is no event (bad JSON, no ts, no text): counted, reported, skipped. */
export interface ClassifyMalformedRecord {
  type: 'malformed';
  offset: number;
  reason: string;
}

/** Last record of the stream. */
export interface ClassifyTotalsRecord {
  type: 'totals';
  events: number;
  classified: number;
  unclassified: number;
  malformed: number;
  counts: Record<string, number>;
}

/** One record of a `stream.classify` stream. */
export type StreamClassifyOutput =
  ClassifiedRecord | UnclassifiedRecord | LabelWindowRecord | ClassifyMalformedRecord | ClassifyTotalsRecord;

const HOUR_MS = 3_600_000;

/**
 * `stream.classify@1.0.0`: events carrying text, classified as they arrive by calling a classifier
 * capability through the controller, with label counts per event-time window.
 */
export const STREAM_CLASSIFY = defineBuiltinCapability<
  StreamClassifyInput | Buffer,
  StreamClassifyOutput,
  'bidi'
>({
  id: 'stream.classify',
  version: '1.0.0',
  description:
    'Classifies the text of each event of a live stream ({ ts, key?, text }) by calling ' +
    'classify.sentiment or classify.email through the controller, as the first { query } record ' +
    'says, and answers in input order { type: "classified", event, label, score } per event, or ' +
    '{ type: "unclassified", code, message } when the classifier cannot take it now (UNAVAILABLE ' +
    'while none is registered; later events are tried again), plus { type: "labels", counts } per ' +
    'closed tumbling window of event time and a totals record at the end. Input: JSON records, or ' +
    'NDJSON bytes (application/x-ndjson), where a bad line is reported, not fatal.',
  inputMediaTypes: ['application/x-ndjson', 'application/x-protobuf'],
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    description:
      'The first record: { query }. Later records: events { ts, key?, text, fields? }; anything ' +
      'else an event carries goes in fields.',
    properties: {
      query: {
        type: 'object',
        additionalProperties: false,
        required: ['classifier'],
        description: 'Which classifier, the text field, the window of the label counts, calls in flight.',
        properties: {
          classifier: { enum: ['sentiment', 'email'], description: 'classify.sentiment or classify.email.' },
          textField: {
            type: 'string',
            minLength: 1,
            maxLength: 64,
            default: 'text',
            description: 'Field of the event holding the text (also looked up in fields).',
          },
          windowMs: {
            type: 'integer',
            minimum: 100,
            maximum: 24 * HOUR_MS,
            default: 60_000,
            description: 'Length of the tumbling windows of label counts, in event time.',
          },
          concurrency: {
            type: 'integer',
            minimum: 1,
            maximum: 64,
            default: 8,
            description: 'Classifier calls in flight at once.',
          },
        },
      },
      // Untyped on purpose: a bad event is reported by the worker and the stream goes on.
      ts: { description: 'Event time: ms since the epoch, or ISO 8601.' },
      key: { description: 'What the event is about (a string); passed back.' },
      text: { description: 'The text to classify (or the query textField).' },
      fields: { description: 'More fields; the text field may be here.' },
    },
  },
  outputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['type'],
    properties: {
      type: {
        enum: ['classified', 'unclassified', 'labels', 'malformed', 'totals'],
        description: 'What the record is.',
      },
      offset: {
        type: 'integer',
        minimum: 0,
        description:
          'classified, unclassified, malformed: byte offset of its line or frame, or its record index.',
      },
      event: { type: 'object', description: 'classified, unclassified: the event ts and key.' },
      label: { type: 'string', description: "classified: the classifier's label." },
      score: { type: 'number', description: "classified: the classifier's score." },
      code: { type: 'string', description: 'unclassified: the error code of the call (UNAVAILABLE, ...).' },
      message: { type: 'string', description: 'unclassified: what the call failed with.' },
      windowStart: { type: 'number', description: 'labels: window start, ms since the epoch.' },
      windowEnd: { type: 'number', description: 'labels: window end, ms since the epoch.' },
      counts: {
        type: 'object',
        additionalProperties: { type: 'integer', minimum: 0 },
        description: 'labels, totals: events per label.',
      },
      unclassified: { type: 'integer', minimum: 0, description: 'labels, totals: events not classified.' },
      reason: { type: 'string', description: 'malformed: why it is no event.' },
      events: { type: 'integer', minimum: 0, description: 'totals: events taken.' },
      classified: { type: 'integer', minimum: 0, description: 'totals: events classified.' },
      malformed: { type: 'integer', minimum: 0, description: 'totals: malformed inputs.' },
    },
  },
  errorCodes: ['INVALID_INPUT'],
  streaming: 'bidi',
  resources: { maxConcurrency: 16, memoryMb: 128 },
});
