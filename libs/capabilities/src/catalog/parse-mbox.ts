import { defineCapability } from '../capability-definition.js';
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

/** One record of a `parse.mbox` stream: one message of the mailbox. */
export interface ParseMboxRecord extends EmailSummaryFields {
  /** Position of the message in the mailbox, from 0. */
  index: number;
  /** Byte offset of the message's `From ` line in the mbox. */
  offset: number;
  /** Size of the message in bytes, `From ` line included. */
  size: number;
  /** The start of the text body. */
  textPreview?: string;
  /** Present when the stream asked for `includeHeaders`. */
  headers?: Record<string, string>;
}

const PREVIEW_MAX = 500;

/**
 * `parse.mbox@1.0.0`: bidirectional stream from a (possibly multi-GB) mbox file to one summary
 * record per message, in bounded memory.
 */
export const PARSE_MBOX = defineCapability<ParseMboxOptions | Buffer, ParseMboxRecord, 'bidi'>({
  id: 'parse.mbox',
  version: '1.0.0',
  description:
    'Streams an mbox mailbox in and one summary record per message out, in bounded memory. Input ' +
    'chunks are raw mbox bytes (application/mbox) and are not checked against inputSchema; ' +
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
    required: ['index', 'offset', 'size', ...EMAIL_SUMMARY_REQUIRED],
    properties: {
      index: { type: 'integer', minimum: 0, description: 'Position of the message in the mailbox, from 0.' },
      offset: { type: 'integer', minimum: 0, description: 'Byte offset of the message in the mbox.' },
      size: { type: 'integer', minimum: 0, description: 'Size of the message in bytes.' },
      ...EMAIL_SUMMARY_PROPERTIES,
      textPreview: { type: 'string', maxLength: PREVIEW_MAX, description: 'The start of the text body.' },
      headers: EMAIL_HEADERS_SCHEMA,
    },
  },
  errorCodes: ['INVALID_INPUT', 'UNSUPPORTED_FORMAT'],
  streaming: 'bidi',
  inputMediaTypes: ['application/mbox', 'application/octet-stream'],
  idempotent: true,
  resources: { maxConcurrency: 2, memoryMb: 256 },
});
