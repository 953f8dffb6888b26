import { defineCapability } from '../capability-definition.js';
import { base64Schema, MIB } from './base64-schema.js';

/** Formats `convert.document` reads. */
export type DocumentSourceFormat = 'markdown' | 'html' | 'text' | 'pdf' | 'png' | 'jpeg';
/** Formats `convert.document` writes. */
export type DocumentTargetFormat = 'markdown' | 'html' | 'text' | 'pdf' | 'png';

/** Input of `convert.document`. */
export interface ConvertDocumentInput {
  from: DocumentSourceFormat;
  to: DocumentTargetFormat;
  /** The source file, base64. */
  content: string;
  options?: {
    title?: string;
    pageSize?: 'A4' | 'Letter';
    /** Raster resolution for image output or input (72 to 600). */
    dpi?: number;
  };
}

/** Output of `convert.document`. */
export interface ConvertDocumentOutput {
  format: DocumentTargetFormat;
  /** The converted file, base64. */
  content: string;
  /** Decoded size of `content`. */
  bytes: number;
  /** Page count, for paged formats. */
  pages?: number;
  /** What the conversion could not carry over, e.g. an unsupported Markdown extension. */
  warnings: string[];
}

const SOURCE_FORMATS = ['markdown', 'html', 'text', 'pdf', 'png', 'jpeg'];
const TARGET_FORMATS = ['markdown', 'html', 'text', 'pdf', 'png'];
/** Largest file in or out, decoded. Workers may refuse less with PAYLOAD_TOO_LARGE. */
const MAX_FILE_BYTES = 64 * MIB;

/**
 * `convert.document@1.0.0`: converts a document between Markdown, HTML, text, PDF and images, in
 * memory. Large files travel through `InvokeStream` in chunks; the JSON form below is the unary one.
 */
export const CONVERT_DOCUMENT = defineCapability<ConvertDocumentInput, ConvertDocumentOutput>({
  id: 'convert.document',
  version: '1.0.0',
  description:
    'Converts a document between Markdown, HTML, plain text, PDF and images (PNG out; PNG or JPEG in, ' +
    'through OCR). A pair the worker cannot convert fails with UNSUPPORTED_FORMAT.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['from', 'to', 'content'],
    properties: {
      from: { type: 'string', enum: SOURCE_FORMATS, description: 'Format of content.' },
      to: { type: 'string', enum: TARGET_FORMATS, description: 'Format to produce.' },
      content: base64Schema('The source file, base64 (at most 64 MiB decoded).', MAX_FILE_BYTES),
      options: {
        type: 'object',
        additionalProperties: false,
        description: 'Conversion options; each applies only where the target format has the notion.',
        properties: {
          title: {
            type: 'string',
            maxLength: 512,
            description: 'Document title (HTML <title>, PDF metadata).',
          },
          pageSize: { type: 'string', enum: ['A4', 'Letter'], description: 'Page size for PDF output.' },
          dpi: {
            type: 'integer',
            minimum: 72,
            maximum: 600,
            description: 'Raster resolution in dots per inch.',
          },
        },
      },
    },
  },
  outputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['format', 'content', 'bytes', 'warnings'],
    properties: {
      format: {
        type: 'string',
        enum: TARGET_FORMATS,
        description: 'Format of content (the requested `to`).',
      },
      content: base64Schema('The converted file, base64.', MAX_FILE_BYTES),
      bytes: {
        type: 'integer',
        minimum: 0,
        maximum: MAX_FILE_BYTES,
        description: 'Decoded size of content.',
      },
      pages: { type: 'integer', minimum: 1, description: 'Page count, for PDF output.' },
      warnings: {
        type: 'array',
        maxItems: 100,
        items: { type: 'string', maxLength: 1024 },
        description: 'What the conversion could not carry over; empty when nothing was lost.',
      },
    },
  },
  errorCodes: ['UNSUPPORTED_FORMAT', 'INVALID_INPUT', 'PAYLOAD_TOO_LARGE'],
  idempotent: true,
  resources: { memoryMb: 1024 },
});
