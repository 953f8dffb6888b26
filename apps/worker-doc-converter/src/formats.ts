import type { DocumentSourceFormat, DocumentTargetFormat } from '@crank/capabilities';

/** A format `convert.document` reads. */
export type SourceFormat = DocumentSourceFormat;
/** A format `convert.document` writes. */
export type TargetFormat = DocumentTargetFormat;
/** The raster formats, read and written by sharp. */
export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'avif' | 'tiff';

export const IMAGE_FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'webp', 'avif', 'tiff'];

/** Formats that are UTF-8 text (or another charset the caller names), never sniffable apart. */
export const TEXT_FORMATS: readonly SourceFormat[] = ['markdown', 'html', 'text', 'csv', 'json'];

/**
 * Every pair this worker converts, by source. Images convert to each other (the same format too:
 * a resize or re-encode) and to text by OCR.
 */
export const TARGETS_OF: Readonly<Record<SourceFormat, readonly TargetFormat[]>> = {
  markdown: ['html', 'pdf'],
  html: ['text', 'pdf'],
  text: ['pdf'],
  pdf: ['text'],
  docx: ['html', 'text'],
  csv: ['json'],
  json: ['csv'],
  png: [...IMAGE_FORMATS, 'text'],
  jpeg: [...IMAGE_FORMATS, 'text'],
  webp: [...IMAGE_FORMATS, 'text'],
  avif: [...IMAGE_FORMATS, 'text'],
  tiff: [...IMAGE_FORMATS, 'text'],
};

/** Media type of each format written. */
export const MEDIA_TYPE_OF: Readonly<Record<TargetFormat, string>> = {
  html: 'text/html; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  pdf: 'application/pdf',
  csv: 'text/csv; charset=utf-8',
  json: 'application/json',
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  avif: 'image/avif',
  tiff: 'image/tiff',
};

/**
 * The format a raw payload's media type declares; undefined for `application/octet-stream`, whose
 * format is sniffed. Only the types the capability lists reach the worker.
 */
export const FORMAT_OF_MEDIA_TYPE: Readonly<Record<string, SourceFormat | undefined>> = {
  'application/pdf': 'pdf',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'text/markdown': 'markdown',
  'text/html': 'html',
  'text/plain': 'text',
  'text/csv': 'csv',
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/webp': 'webp',
  'image/avif': 'avif',
  'image/tiff': 'tiff',
};

/** Whether the worker writes text formats as `text`, binary ones as base64 `content`. */
export function isTextTarget(format: TargetFormat): boolean {
  return format === 'html' || format === 'text' || format === 'csv' || format === 'json';
}

export function isImageFormat(format: string): format is ImageFormat {
  return (IMAGE_FORMATS as readonly string[]).includes(format);
}

export function isTextFormat(format: SourceFormat): boolean {
  return TEXT_FORMATS.includes(format);
}
