import type { ConvertDocumentInput, ConvertDocumentOutput } from '@crank/capabilities';
import { ConversionError } from './conversion-error.js';
import { isImageFormat, MEDIA_TYPE_OF, type SourceFormat, type TargetFormat } from './formats.js';

/** Conversion options, as the capability's input names them. */
export type ConvertOptions = NonNullable<ConvertDocumentInput['options']>;

/** What a converter learns besides the bytes it writes (pages, pixels, document information). */
export type ConversionMetadata = Omit<
  ConvertDocumentOutput['metadata'],
  'from' | 'bytesIn' | 'bytesOut' | 'durationMs'
>;

/** One conversion, as it crosses into a converter thread: plain data only. */
export interface ConvertJob {
  source: Uint8Array;
  from: SourceFormat;
  to: TargetFormat;
  options: ConvertOptions;
  /** Charset of a text source (a WHATWG encoding label). */
  charset: string;
}

/** What a conversion produced. */
export interface ConvertResult {
  data: Uint8Array;
  mediaType: string;
  metadata: ConversionMetadata;
  warnings: string[];
}

/** What each converter returns: text formats as a string, binary ones as bytes. */
export interface Converted {
  output: string | Uint8Array;
  metadata?: ConversionMetadata;
  warnings?: string[];
}

const IMAGE_OPTIONS = ['width', 'height', 'fit', 'quality'] as const;

/**
 * Converts one file. The pair must be one the worker lists (`TARGETS_OF`) and the source's format
 * checked; converters are loaded on first use, so a thread loads only the libraries its calls need.
 *
 * @throws ConversionError INVALID_INPUT when the file is corrupt, PAYLOAD_TOO_LARGE when it
 *   decodes to more than a converter takes
 */
export async function convert(job: ConvertJob): Promise<ConvertResult> {
  const source = asBuffer(job.source);
  const converted = await run(source, job);
  const data =
    typeof converted.output === 'string' ? Buffer.from(converted.output, 'utf8') : converted.output;
  return {
    data,
    mediaType: MEDIA_TYPE_OF[job.to],
    metadata: converted.metadata ?? {},
    warnings: [...ignoredOptions(job), ...(converted.warnings ?? [])],
  };
}

async function run(source: Buffer, { from, to, options, charset }: ConvertJob): Promise<Converted> {
  if (isImageFormat(from)) {
    if (to === 'text') return (await import('./converters/ocr.js')).imageToText(source, from);
    if (!isImageFormat(to)) throw unsupported(from, to);
    return (await import('./converters/images.js')).convertImage(source, from, to, options);
  }
  if (from === 'pdf') {
    if (to === 'text') return (await import('./converters/pdf-text.js')).pdfToText(source);
    throw unsupported(from, to);
  }
  if (from === 'docx') {
    const docx = await import('./converters/docx.js');
    if (to === 'html') return docx.docxToHtml(source, options.title);
    if (to === 'text') return docx.docxToText(source);
    throw unsupported(from, to);
  }
  const { decodeText } = await import('./converters/text-decoding.js');
  const text = decodeText(source, charset, from);
  switch (`${from}->${to}`) {
    case 'markdown->html':
      return (await import('./converters/markdown-html.js')).markdownToHtml(text, options.title);
    case 'html->text':
      return (await import('./converters/html-text.js')).htmlToText(text);
    case 'markdown->pdf':
      return (await import('./converters/pdf-writer.js')).markdownToPdf(text, options);
    case 'html->pdf':
      return (await import('./converters/pdf-writer.js')).htmlToPdf(text, options);
    case 'text->pdf':
      return (await import('./converters/pdf-writer.js')).textToPdf(text, options);
    case 'csv->json':
      return (await import('./converters/csv-json.js')).csvToJson(text);
    case 'json->csv':
      return (await import('./converters/csv-json.js')).jsonToCsv(text);
    default:
      throw unsupported(from, to);
  }
}

/** Options given that the target format has no notion of: said, rather than silently dropped. */
function ignoredOptions({ to, options }: ConvertJob): string[] {
  const ignored: string[] = [];
  if (!isImageFormat(to)) ignored.push(...IMAGE_OPTIONS.filter((name) => options[name] !== undefined));
  if (to !== 'pdf' && options.pageSize !== undefined) ignored.push('pageSize');
  if (to !== 'pdf' && to !== 'html' && options.title !== undefined) ignored.push('title');
  return ignored.map((name) => `options.${name}: does not apply to ${to} output; ignored`);
}

function unsupported(from: SourceFormat, to: TargetFormat): ConversionError {
  return new ConversionError('UNSUPPORTED_FORMAT', `${from} -> ${to}: not a pair this worker converts`);
}

/** Bytes that crossed a thread arrive as a plain Uint8Array; the libraries want a Buffer. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
