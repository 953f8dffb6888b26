import { defineBuiltinCapability } from '../capability-definition.js';
import {
  EMAIL_HEADERS_SCHEMA,
  EMAIL_SUMMARY_PROPERTIES,
  EMAIL_SUMMARY_REQUIRED,
  type EmailSummaryFields,
} from './email-summary-schema.js';

/** Options of a `parse.mbox` stream, sent as its first chunk (JSON); every field is optional. */
export interface ParseMboxOptions {
  /** Characters of the text body to put in `textPreview` (0 to 500). @defaultValue 500 */
  previewChars?: number;
  /** Stop after this many messages. No default: the whole mailbox. */
  maxMessages?: number;
  /** Put each message's headers in its record. @defaultValue false */
  includeHeaders?: boolean;
}

/** A record of a `parse.mbox` stream about one message of the mailbox. */
export interface ParseMboxMessageRecord extends EmailSummaryFields {
  type: 'message';
  /** Position of the message in the mailbox, from 0. */
  index: number;
  /** Byte offset of the message's `From ` line in the mbox. */
  offset: number;
  /** Bytes of the mbox the message takes, its `From ` line and the blank line after it included. */
  size: number;
  /** The start of the text body, whitespace collapsed. */
  textPreview?: string;
  /** Present when the stream asked for `includeHeaders`. */
  headers?: Record<string, string>;
}

/**
 * Why bytes of the mbox are no message: `preamble`, text before the first `From ` line;
 * `no-header`, a `From ` line followed by something that does not start with a header.
 */
export type MboxGarbageReason = 'preamble' | 'no-header';

/** A record of a `parse.mbox` stream about bytes that are not a message (reported, not fatal). */
export interface ParseMboxGarbageRecord {
  type: 'garbage';
  /** Byte offset of the bytes in the mbox. */
  offset: number;
  /** How many bytes. */
  size: number;
  reason: MboxGarbageReason;
}

/** The last record of a `parse.mbox` stream. */
export interface ParseMboxTotals {
  /** Messages read (records of type `message`). */
  messages: number;
  /** Bytes of the mbox read. */
  bytes: number;
  /** Messages with at least one warning. */
  malformed: number;
  /** Attachments over all messages. */
  attachments: number;
  /** Segments that are not messages, and their bytes. */
  garbage: { segments: number; bytes: number };
  /** The most frequent domains of `From` addresses (lower-case), most frequent first; 10 at most. */
  topSenderDomains: { domain: string; count: number }[];
  /**
   * Whether the counts of `topSenderDomains` are lower bounds: a mailbox with more distinct
   * domains than the parser keeps counters for (1,000) has its rare ones forgotten.
   */
  topSenderDomainsApproximate: boolean;
  /** Earliest and latest `Date` of the messages; absent when none has one. */
  dateRange?: { first: string; last: string };
  /** False when the stream stopped at `maxMessages` before the end of the mbox. */
  complete: boolean;
}

/** The totals record. */
export interface ParseMboxTotalsRecord {
  type: 'totals';
  totals: ParseMboxTotals;
}

/** One record of a `parse.mbox` stream: a message, garbage, and at the end the totals. */
export type ParseMboxRecord = ParseMboxMessageRecord | ParseMboxGarbageRecord | ParseMboxTotalsRecord;

const PREVIEW_MAX = 500;
const DATE_TIME = { type: 'string', format: 'date-time' };

const TOTALS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [
    'messages',
    'bytes',
    'malformed',
    'attachments',
    'garbage',
    'topSenderDomains',
    'topSenderDomainsApproximate',
    'complete',
  ],
  properties: {
    messages: { type: 'integer', minimum: 0, description: 'Messages read.' },
    bytes: { type: 'integer', minimum: 0, description: 'Bytes of the mbox read.' },
    malformed: { type: 'integer', minimum: 0, description: 'Messages with at least one warning.' },
    attachments: { type: 'integer', minimum: 0, description: 'Attachments over all messages.' },
    garbage: {
      type: 'object',
      additionalProperties: false,
      required: ['segments', 'bytes'],
      properties: {
        segments: { type: 'integer', minimum: 0, description: 'Segments that are not messages.' },
        bytes: { type: 'integer', minimum: 0, description: 'Their bytes.' },
      },
      description: 'Bytes that are not messages.',
    },
    topSenderDomains: {
      type: 'array',
      maxItems: 10,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['domain', 'count'],
        properties: {
          domain: { type: 'string', maxLength: 998, description: 'Lower-case domain of a From address.' },
          count: { type: 'integer', minimum: 1, description: 'Messages from it.' },
        },
      },
      description: 'The most frequent From domains, most frequent first.',
    },
    topSenderDomainsApproximate: {
      type: 'boolean',
      description: 'Whether the counts are lower bounds (more than 1,000 distinct domains).',
    },
    dateRange: {
      type: 'object',
      additionalProperties: false,
      required: ['first', 'last'],
      properties: {
        first: { ...DATE_TIME, description: 'Earliest Date header.' },
        last: { ...DATE_TIME, description: 'Latest Date header.' },
      },
      description: 'Earliest and latest Date of the messages; absent when none has one.',
    },
    complete: {
      type: 'boolean',
      description: 'False when the stream stopped at maxMessages before the end of the mbox.',
    },
  },
};

/** What each record type must hold, and may not. */
const RECORD_RULES = [
  {
    if: { properties: { type: { const: 'message' } } },
    then: {
      required: ['index', 'offset', 'size', ...EMAIL_SUMMARY_REQUIRED],
      not: { anyOf: [{ required: ['reason'] }, { required: ['totals'] }] },
    },
  },
  {
    if: { properties: { type: { const: 'garbage' } } },
    then: {
      required: ['offset', 'size', 'reason'],
      propertyNames: { enum: ['type', 'offset', 'size', 'reason'] },
    },
  },
  {
    if: { properties: { type: { const: 'totals' } } },
    then: { required: ['totals'], propertyNames: { enum: ['type', 'totals'] } },
  },
];

/**
 * `parse.mbox@2.0.0`: bidirectional stream from a (possibly multi-GB) mbox file to one summary
 * record per message as soon as it is parsed, a record for bytes that are no message, and a final
 * totals record, in bounded memory. 2.0.0 typed the records (`type`) and added the garbage and
 * totals records, attachment hashes and warnings.
 */
export const PARSE_MBOX = defineBuiltinCapability<ParseMboxOptions | Buffer, ParseMboxRecord, 'bidi'>({
  id: 'parse.mbox',
  version: '2.0.0',
  description:
    'Streams an mbox mailbox (mboxrd or mboxo, LF or CRLF) in and, in bounded memory, one record ' +
    'per message out as soon as it is parsed ({ type: "message", ... }), one per run of bytes that ' +
    'is no message ({ type: "garbage", ... }), and last the totals ({ type: "totals", totals }). ' +
    'Input chunks are raw mbox bytes (application/mbox) and are not checked against inputSchema; ' +
    'inputSchema describes the optional options chunk (application/json) a caller may send first. ' +
    'outputSchema applies to each record.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      previewChars: {
        type: 'integer',
        minimum: 0,
        maximum: PREVIEW_MAX,
        default: PREVIEW_MAX,
        description: 'Characters of the text body to put in textPreview.',
      },
      maxMessages: { type: 'integer', minimum: 1, description: 'Stop after this many messages.' },
      includeHeaders: {
        type: 'boolean',
        default: false,
        description: "Put each message's headers in its record.",
      },
    },
  },
  outputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['type'],
    properties: {
      type: {
        type: 'string',
        enum: ['message', 'garbage', 'totals'],
        description: 'What the record is about: a message, bytes that are no message, the totals (last).',
      },
      index: { type: 'integer', minimum: 0, description: 'Position of the message in the mailbox, from 0.' },
      offset: { type: 'integer', minimum: 0, description: 'Byte offset in the mbox (of the From line).' },
      size: { type: 'integer', minimum: 0, description: 'Bytes of the mbox the record covers.' },
      ...EMAIL_SUMMARY_PROPERTIES,
      textPreview: {
        type: 'string',
        maxLength: PREVIEW_MAX,
        description: 'The start of the text body, whitespace collapsed.',
      },
      headers: EMAIL_HEADERS_SCHEMA,
      reason: {
        type: 'string',
        enum: ['preamble', 'no-header'],
        description:
          'Garbage: "preamble", text before the first From line; "no-header", a From line not followed by a header.',
      },
      totals: { ...TOTALS_SCHEMA, description: 'The totals of the stream (last record).' },
    },
    allOf: RECORD_RULES,
  },
  errorCodes: ['INVALID_INPUT', 'UNSUPPORTED_FORMAT'],
  streaming: 'bidi',
  inputMediaTypes: ['application/mbox', 'application/octet-stream'],
  idempotent: true,
  resources: { maxConcurrency: 2, memoryMb: 256 },
});
