import { defineBuiltinCapability } from '../capability-definition.js';
import { MIB } from './base64-schema.js';

/** Formats `convert.document` reads. */
export type DocumentSourceFormat =
  'markdown' | 'html' | 'text' | 'pdf' | 'docx' | 'csv' | 'json' | 'png' | 'jpeg' | 'webp' | 'avif' | 'tiff';
/** Formats `convert.document` writes. */
export type DocumentTargetFormat =
  'html' | 'text' | 'pdf' | 'csv' | 'json' | 'png' | 'jpeg' | 'webp' | 'avif' | 'tiff';

/** Input of `convert.document` in its JSON form; raw bytes (a `Buffer`) are the other form. */
export interface ConvertDocumentInput {
  to: DocumentTargetFormat;
  /** Format of the source; sniffed from its bytes when left out. */
  from?: DocumentSourceFormat;
  /** The source file, base64. Exactly one of `content` and `text`. */
  content?: string;
  /** The source file, for text formats. Exactly one of `content` and `text`. */
  text?: string;
  /** `json` (default): the output below; `raw`: the converted file alone, as bytes of its media type. */
  reply?: 'json' | 'raw';
  options?: {
    title?: string;
    pageSize?: 'A4' | 'Letter';
    width?: number;
    height?: number;
    fit?: 'inside' | 'cover' | 'contain' | 'fill' | 'outside';
    quality?: number;
  };
}

/** Output of `convert.document` (with `reply: 'json'`). */
export interface ConvertDocumentOutput {
  format: DocumentTargetFormat;
  /** Media type of the converted file, e.g. `application/pdf`, `text/plain; charset=utf-8`. */
  mediaType: string;
  /** The converted file, for text formats (html, text, csv, json). */
  text?: string;
  /** The converted file, base64, for binary formats (pdf and images). */
  content?: string;
  metadata: {
    /** The source format, as given or as sniffed. */
    from: DocumentSourceFormat;
    bytesIn: number;
    bytesOut: number;
    /** Time the worker spent on the call, waiting for a thread included. */
    durationMs: number;
    /** Pages of a PDF, read or written. */
    pages?: number;
    /** Pixels of the image written, or of the image read by OCR. */
    width?: number;
    height?: number;
    /** Document information of a PDF read. */
    title?: string;
    author?: string;
    subject?: string;
    keywords?: string;
    creator?: string;
    producer?: string;
    createdAt?: string;
    modifiedAt?: string;
  };
  /** What the conversion could not carry over, e.g. images a PDF cannot embed. */
  warnings: string[];
}

const SOURCE_FORMATS = [
  'markdown',
  'html',
  'text',
  'pdf',
  'docx',
  'csv',
  'json',
  'png',
  'jpeg',
  'webp',
  'avif',
  'tiff',
];
const TARGET_FORMATS = ['html', 'text', 'pdf', 'csv', 'json', 'png', 'jpeg', 'webp', 'avif', 'tiff'];
/**
 * Largest file sent base64 in `content`: its base64 text (4/3 of it) and the JSON around it fit the
 * 64 MiB message that carries a call. Larger files travel as raw bytes.
 */
const MAX_CONTENT_BYTES = 47 * MIB;
/** Longest `text` in: even escaped six bytes a character in JSON, it fits a 64 MiB message. */
const MAX_TEXT_CHARS = 10 * MIB;
/** Largest file in or out as raw bytes: a 64 MiB message less room for its envelope. */
const MAX_RAW_BYTES = 63 * MIB;
const MAX_PIXELS_SIDE = 16_384;

/**
 * Base64 text (standard alphabet, padded) of a file of at most `maxBytes`. Checked by a plain
 * pattern rather than `base64Schema`'s `format: 'byte'`, whose regular expression overflows the
 * stack on a few MiB of text: the worker checks the length is a multiple of 4.
 */
const base64Text = (description: string, maxBytes: number): Record<string, unknown> => ({
  type: 'string',
  contentEncoding: 'base64',
  pattern: '^[A-Za-z0-9+/]*={0,2}$',
  maxLength: Math.ceil(maxBytes / 3) * 4,
  description,
});

const metadataString = (description: string): Record<string, unknown> => ({
  type: 'string',
  maxLength: 4096,
  description,
});

/**
 * `convert.document@2.0.0`: converts a file in memory. Pairs: Markdown to HTML; HTML to text; HTML,
 * Markdown or text to PDF; PDF to text (with page count and document information); DOCX to HTML or
 * text; CSV to JSON and back; PNG, JPEG, WebP, AVIF and TIFF to any of them (resize, quality); an
 * image to text by OCR.
 *
 * The file travels as raw bytes (the payload's media type, up to the worker's limit: 50 MiB by
 * default, 63 MiB at most) or base64 inside JSON (47 MiB at most); options of a raw call are
 * parameters of its media type (`application/pdf; to=text`). 2.0.0 replaced 1.0.0, which no worker
 * served: `from` became optional (sniffed), DOCX, CSV, JSON and more image formats came in, raster
 * output from documents went out, and the output carries the file's media type and metadata.
 */
export const CONVERT_DOCUMENT = defineBuiltinCapability<ConvertDocumentInput | Buffer, ConvertDocumentOutput>(
  {
    id: 'convert.document',
    version: '2.0.0',
    description:
      'Converts a file in memory: Markdown to HTML; HTML to text; HTML, Markdown or text to PDF; PDF to ' +
      'text with pages and metadata; DOCX to HTML or text; CSV to JSON and back; PNG, JPEG, WebP, AVIF ' +
      'and TIFF to one another (resize, quality) or to text by OCR. Send the file as raw bytes of its ' +
      'media type with the options as its parameters (image/png; to=webp; width=800), up to the ' +
      "worker's limit (50 MiB by default; PAYLOAD_TOO_LARGE beyond), or as JSON with content in base64 " +
      '(47 MiB at most). The format is sniffed from the bytes when not given; a declared format the ' +
      'bytes contradict, or a pair not listed, fails with UNSUPPORTED_FORMAT; a corrupt file with ' +
      'INVALID_INPUT. reply=raw answers the converted file alone, as bytes of its media type.',
    inputSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['to'],
      oneOf: [{ required: ['content'] }, { required: ['text'] }],
      properties: {
        to: { type: 'string', enum: TARGET_FORMATS, description: 'Format to produce.' },
        from: {
          type: 'string',
          enum: SOURCE_FORMATS,
          description: 'Format of the source; sniffed from its bytes when left out.',
        },
        content: base64Text(
          'The source file, base64 (47 MiB at most decoded). Exactly one of content and text.',
          MAX_CONTENT_BYTES,
        ),
        text: {
          type: 'string',
          maxLength: MAX_TEXT_CHARS,
          description:
            'The source file as text, for Markdown, HTML, text, CSV or JSON (10 Mi characters at most). ' +
            'Exactly one of content and text.',
        },
        reply: {
          type: 'string',
          enum: ['json', 'raw'],
          default: 'json',
          description: 'json: the output object; raw: the converted file alone, as bytes of its media type.',
        },
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
            width: {
              type: 'integer',
              minimum: 1,
              maximum: MAX_PIXELS_SIDE,
              description: 'Width of image output in pixels.',
            },
            height: {
              type: 'integer',
              minimum: 1,
              maximum: MAX_PIXELS_SIDE,
              description: 'Height of image output in pixels.',
            },
            fit: {
              type: 'string',
              enum: ['inside', 'cover', 'contain', 'fill', 'outside'],
              default: 'inside',
              description: 'How an image fits width and height (sharp semantics); inside keeps it whole.',
            },
            quality: {
              type: 'integer',
              minimum: 1,
              maximum: 100,
              description: 'Quality of JPEG, WebP and AVIF output (PNG: palette quantisation).',
            },
          },
        },
      },
    },
    outputSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['format', 'mediaType', 'metadata', 'warnings'],
      oneOf: [{ required: ['text'] }, { required: ['content'] }],
      properties: {
        format: { type: 'string', enum: TARGET_FORMATS, description: 'Format of the converted file.' },
        mediaType: {
          type: 'string',
          minLength: 3,
          maxLength: 128,
          description: 'Media type of the converted file.',
        },
        text: {
          type: 'string',
          maxLength: MAX_RAW_BYTES,
          description: 'The converted file, for text formats (html, text, csv, json).',
        },
        content: base64Text(
          'The converted file, base64, for binary formats (PDF, images).',
          MAX_CONTENT_BYTES,
        ),
        metadata: {
          type: 'object',
          additionalProperties: false,
          required: ['from', 'bytesIn', 'bytesOut', 'durationMs'],
          description: 'What the worker learnt about the file and the conversion.',
          properties: {
            from: {
              type: 'string',
              enum: SOURCE_FORMATS,
              description: 'Source format, as given or sniffed.',
            },
            bytesIn: {
              type: 'integer',
              minimum: 0,
              maximum: MAX_RAW_BYTES,
              description: 'Size of the source.',
            },
            bytesOut: {
              type: 'integer',
              minimum: 0,
              maximum: MAX_RAW_BYTES,
              description: 'Size of the converted file.',
            },
            durationMs: { type: 'number', minimum: 0, description: 'Time the worker spent on the call.' },
            pages: { type: 'integer', minimum: 0, description: 'Pages of a PDF read or written.' },
            width: {
              type: 'integer',
              minimum: 1,
              description: 'Width in pixels of the image written or read.',
            },
            height: {
              type: 'integer',
              minimum: 1,
              description: 'Height in pixels of the image written or read.',
            },
            title: metadataString('Title of a PDF read.'),
            author: metadataString('Author of a PDF read.'),
            subject: metadataString('Subject of a PDF read.'),
            keywords: metadataString('Keywords of a PDF read.'),
            creator: metadataString('Application that made a PDF read.'),
            producer: metadataString('Library that wrote a PDF read.'),
            createdAt: { type: 'string', format: 'date-time', description: 'Creation time of a PDF read.' },
            modifiedAt: { type: 'string', format: 'date-time', description: 'Last change of a PDF read.' },
          },
        },
        warnings: {
          type: 'array',
          maxItems: 100,
          items: { type: 'string', maxLength: 1024 },
          description: 'What the conversion could not carry over; empty when nothing was lost.',
        },
      },
    },
    errorCodes: ['UNSUPPORTED_FORMAT', 'INVALID_INPUT', 'PAYLOAD_TOO_LARGE'],
    inputMediaTypes: [
      'application/pdf',
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      'text/markdown',
      'text/html',
      'text/plain',
      'text/csv',
      'image/png',
      'image/jpeg',
      'image/webp',
      'image/avif',
      'image/tiff',
      'application/octet-stream',
    ],
    idempotent: true,
    resources: { memoryMb: 1024 },
  },
);
