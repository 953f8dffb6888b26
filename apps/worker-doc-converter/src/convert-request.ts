import type { ConvertDocumentInput } from '@crank/capabilities';
import { CapabilityError } from '@crank/worker-runtime';
import { CONVERT } from './convert-capability.js';
import type { ConvertOptions } from './conversion.js';
import {
  FORMAT_OF_MEDIA_TYPE,
  isTextFormat,
  MEDIA_TYPE_OF,
  TARGETS_OF,
  TEXT_FORMATS,
  type SourceFormat,
  type TargetFormat,
} from './formats.js';
import { parseMediaType } from './media-type.js';

/** One call, read from either form of input and checked, before any conversion work. */
export interface ConvertRequest {
  source: Buffer;
  /** The format the caller named, if any; checked against the bytes later. */
  declared: SourceFormat | undefined;
  /** Where `declared` came from, for messages: `from`, or `content-type image/png`. */
  declaredBy: string;
  /** Charset of a text source, a WHATWG encoding label. */
  charset: string;
  to: TargetFormat;
  reply: 'json' | 'raw';
  options: ConvertOptions;
}

/** Media-type parameters that set an option, by their lower-case name (parameter names ignore case). */
const OPTION_PARAMS = {
  title: 'title',
  pagesize: 'pageSize',
  width: 'width',
  height: 'height',
  fit: 'fit',
  quality: 'quality',
} as const;
const INTEGER_OPTIONS: ReadonlySet<string> = new Set(['width', 'height', 'quality']);
const KNOWN_PARAMS = ['to', 'reply', 'charset', ...Object.keys(OPTION_PARAMS)];
const TARGETS = Object.keys(MEDIA_TYPE_OF);

/**
 * Reads a call's input: raw bytes of a media type whose parameters carry the options
 * (`image/png; to=webp; width=800`), or the JSON form with the file in `content` (base64) or
 * `text`. The size is checked first, before anything is decoded.
 *
 * @param maxInputBytes - the largest source taken
 * @throws CapabilityError PAYLOAD_TOO_LARGE past `maxInputBytes`; INVALID_INPUT for an empty file
 *   or a bad, missing or unknown parameter (named); UNSUPPORTED_FORMAT for a charset not known
 */
export function readConvertRequest(
  input: ConvertDocumentInput | Buffer,
  contentType: string,
  maxInputBytes: number,
): ConvertRequest {
  const request = Buffer.isBuffer(input)
    ? readRaw(input, contentType, maxInputBytes)
    : readJson(input, maxInputBytes);
  if (request.source.length === 0) throw new CapabilityError('INVALID_INPUT', 'content: is empty');
  return request;
}

function readRaw(bytes: Buffer, contentType: string, maxInputBytes: number): ConvertRequest {
  checkSize(bytes.length, maxInputBytes);
  const { type, params } = parseMediaType(contentType);
  for (const name of params.keys()) {
    if (!KNOWN_PARAMS.includes(name)) {
      throw new CapabilityError(
        'INVALID_INPUT',
        `content-type parameter ${name}: unknown; known: ${KNOWN_PARAMS.join(', ')}`,
      );
    }
  }
  const declared = FORMAT_OF_MEDIA_TYPE[type];
  const to = params.get('to');
  if (to === undefined) {
    const example = declared ? TARGETS_OF[declared].find((target) => target !== declared) : 'text';
    throw new CapabilityError(
      'INVALID_INPUT',
      `content-type: name the format to produce as a parameter, e.g. "${type}; to=${example}" (over HTTP: ?to=${example})`,
    );
  }
  if (!TARGETS.includes(to)) {
    throw new CapabilityError(
      'INVALID_INPUT',
      `content-type parameter to: must be one of ${TARGETS.join(', ')} (got "${cut(to)}")`,
    );
  }
  const options: Record<string, string | number> = {};
  for (const [param, option] of Object.entries(OPTION_PARAMS)) {
    const value = params.get(param);
    if (value === undefined) continue;
    options[option] = INTEGER_OPTIONS.has(option) && /^\d{1,9}$/.test(value) ? Number(value) : value;
  }
  const reply = params.get('reply');
  // The options are checked by the capability's own schema, as the JSON form's are.
  const issue = CONVERT.validateInput({
    to,
    text: '',
    options,
    ...(reply === undefined ? {} : { reply }),
  })[0];
  if (issue) {
    const param = (issue.path.split('/').pop() ?? '').toLowerCase();
    throw new CapabilityError('INVALID_INPUT', `content-type parameter ${param}: ${issue.message}`);
  }
  const charset = params.get('charset') ?? 'utf-8';
  checkCharset(charset);
  return {
    source: bytes,
    declared,
    declaredBy: `content-type ${type}`,
    charset,
    to: to as TargetFormat,
    reply: reply === 'raw' ? 'raw' : 'json',
    options: options as ConvertOptions,
  };
}

function readJson(input: ConvertDocumentInput, maxInputBytes: number): ConvertRequest {
  let source: Buffer;
  if (input.text !== undefined) {
    if (input.from !== undefined && !isTextFormat(input.from)) {
      throw new CapabilityError(
        'INVALID_INPUT',
        `text: carries ${TEXT_FORMATS.join(', ')} only; send a ${input.from} file base64 in content`,
      );
    }
    checkSize(Buffer.byteLength(input.text, 'utf8'), maxInputBytes);
    source = Buffer.from(input.text, 'utf8');
  } else {
    const content = input.content ?? '';
    checkSize(base64Size(content), maxInputBytes);
    // The schema checks the alphabet; Node's decoder would skip a missing or extra character.
    if (content.length % 4 !== 0) {
      throw new CapabilityError(
        'INVALID_INPUT',
        'content: is not base64 (its length is not a multiple of 4)',
      );
    }
    source = Buffer.from(content, 'base64');
  }
  return {
    source,
    declared: input.from,
    declaredBy: 'from',
    charset: 'utf-8',
    to: input.to,
    reply: input.reply ?? 'json',
    options: input.options ?? {},
  };
}

function checkSize(bytes: number, maxInputBytes: number): void {
  if (bytes > maxInputBytes) {
    throw new CapabilityError(
      'PAYLOAD_TOO_LARGE',
      `content: ${bytes} bytes is more than this worker takes (${maxInputBytes} bytes, CRANK_CONVERT_MAX_BYTES)`,
      { bytes, maxBytes: maxInputBytes },
    );
  }
}

function checkCharset(charset: string): void {
  try {
    new TextDecoder(charset);
  } catch {
    throw new CapabilityError(
      'UNSUPPORTED_FORMAT',
      `content-type parameter charset: "${cut(charset)}" is no encoding this worker reads`,
    );
  }
}

/** Decoded size of base64 text (standard alphabet, padded), without decoding it. */
function base64Size(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return Math.floor((base64.length * 3) / 4) - padding;
}

function cut(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
}
