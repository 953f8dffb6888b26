import { defineBuiltinCapability } from '../capability-definition.js';
import { MIB } from './base64-schema.js';
import {
  EMAIL_HEADERS_SCHEMA,
  EMAIL_SUMMARY_PROPERTIES,
  EMAIL_SUMMARY_REQUIRED,
  type EmailSummaryFields,
} from './email-summary-schema.js';

/** Input of `parse.email` as JSON; the message may also come as raw bytes (`message/rfc822`). */
export interface ParseEmailInput {
  /** The RFC 5322 message, as text or (with `encoding: 'base64'`) base64. */
  raw: string;
  encoding?: 'utf8' | 'base64';
}

/** Output of `parse.email`: a summary of the message. */
export interface ParseEmailOutput extends EmailSummaryFields {
  /**
   * The text/plain parts, decoded and joined with "\n"; for a message with only HTML, that HTML
   * as text. Absent when the message has no text.
   */
  textBody?: string;
  /** The text/html parts, decoded and joined with "\n". */
  htmlBody?: string;
  /** Header values by lower-case name; repeated headers joined with "\n". */
  headers: Record<string, string>;
}

/** Largest message accepted: in characters of `raw`, or in bytes of a `message/rfc822` body. */
export const PARSE_EMAIL_MAX_BYTES = 32 * MIB;

/**
 * `parse.email@1.1.0`: parses one RFC 5322 message into a summary. 1.1.0 added raw
 * `message/rfc822` input, each attachment's `sha256` and the `warnings` list.
 */
export const PARSE_EMAIL = defineBuiltinCapability<ParseEmailInput | Buffer, ParseEmailOutput>({
  id: 'parse.email',
  version: '1.1.0',
  description:
    'Parses one RFC 5322 message (MIME included) into a summary: addresses, subject, date, bodies, ' +
    'attachment metadata (with SHA-256), headers (RFC 2047 decoded) and warnings for malformed ' +
    'parts. Attachment bytes are never returned. Send { raw } as JSON, or the message itself as ' +
    'message/rfc822 (32 MiB at most either way).',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['raw'],
    properties: {
      raw: {
        type: 'string',
        minLength: 1,
        maxLength: PARSE_EMAIL_MAX_BYTES,
        description: 'The message: text, or base64 when encoding is "base64" (32 MiB at most).',
      },
      encoding: {
        type: 'string',
        enum: ['utf8', 'base64'],
        default: 'utf8',
        description: 'How raw is written.',
      },
    },
    // Base64 text is checked as such only when the caller says it is base64.
    if: { required: ['encoding'], properties: { encoding: { const: 'base64' } } },
    then: { properties: { raw: { contentEncoding: 'base64', format: 'byte' } } },
  },
  outputSchema: {
    type: 'object',
    additionalProperties: false,
    required: [...EMAIL_SUMMARY_REQUIRED, 'headers'],
    properties: {
      ...EMAIL_SUMMARY_PROPERTIES,
      textBody: {
        type: 'string',
        maxLength: PARSE_EMAIL_MAX_BYTES,
        description: 'The text/plain parts, decoded; for an HTML-only message, its HTML as text.',
      },
      htmlBody: {
        type: 'string',
        maxLength: PARSE_EMAIL_MAX_BYTES,
        description: 'The text/html parts, decoded.',
      },
      headers: EMAIL_HEADERS_SCHEMA,
    },
  },
  errorCodes: ['INVALID_INPUT', 'PAYLOAD_TOO_LARGE'],
  inputMediaTypes: ['message/rfc822'],
  idempotent: true,
  resources: { memoryMb: 512 },
});
