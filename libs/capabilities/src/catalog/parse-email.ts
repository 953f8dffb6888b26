import { defineCapability } from '../capability-definition.js';
import { MIB } from './base64-schema.js';
import {
  EMAIL_HEADERS_SCHEMA,
  EMAIL_SUMMARY_PROPERTIES,
  EMAIL_SUMMARY_REQUIRED,
  type EmailSummaryFields,
} from './email-summary-schema.js';

/** Input of `parse.email`. */
export interface ParseEmailInput {
  /** The RFC 5322 message, as text or (with `encoding: 'base64'`) base64. */
  raw: string;
  encoding?: 'utf8' | 'base64';
}

/** Output of `parse.email`: a summary of the message. */
export interface ParseEmailOutput extends EmailSummaryFields {
  textBody?: string;
  htmlBody?: string;
  /** Header values by lower-case name; repeated headers joined with "\n". */
  headers: Record<string, string>;
}

/** Largest message accepted, in characters of `raw`. */
const RAW_MAX = 32 * MIB;

/** `parse.email@1.0.0`: parses one RFC 5322 message into a summary. */
export const PARSE_EMAIL = defineCapability<ParseEmailInput, ParseEmailOutput>({
  id: 'parse.email',
  version: '1.0.0',
  description:
    'Parses one RFC 5322 message (MIME included) into a summary: addresses, subject, date, bodies, ' +
    'attachment metadata and headers. Attachment bytes are never returned.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['raw'],
    properties: {
      raw: {
        type: 'string',
        minLength: 1,
        maxLength: RAW_MAX,
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
      textBody: { type: 'string', maxLength: RAW_MAX, description: 'The text/plain body, decoded.' },
      htmlBody: { type: 'string', maxLength: RAW_MAX, description: 'The text/html body, decoded.' },
      headers: EMAIL_HEADERS_SCHEMA,
    },
  },
  errorCodes: ['INVALID_INPUT', 'PAYLOAD_TOO_LARGE'],
  idempotent: true,
  resources: { memoryMb: 512 },
});
