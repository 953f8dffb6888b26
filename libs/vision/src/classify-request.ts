import { CapabilityError, mediaTypeOf, type ClassifyImageInput } from '@crank/capabilities';
import { IMAGE_MEDIA_TYPES, sniffImageFormat, type ImageFormat } from './image-format.js';

const MIB = 1024 * 1024;
/** Largest image taken, raw or decoded from base64. */
export const MAX_IMAGE_BYTES = 20 * MIB;

/** A call to `classify.image`, read and checked. */
export interface ClassifyRequest {
  /** The images, in the order sent. */
  images: Buffer[];
  /** Whether the call sent a batch (`images`), answered as `results`. */
  batch: boolean;
  /** The call's threshold, when it gave one. */
  threshold: number | undefined;
}

/**
 * Reads the call: raw bytes of an image media type (`threshold` may be a parameter of the type),
 * or JSON with base64 `image` or `images`. Sizes are checked before anything is decoded.
 *
 * @throws CapabilityError PAYLOAD_TOO_LARGE for an image over 20 MiB, INVALID_INPUT for a bad
 *   parameter, base64 text, or raw bytes that are not the image type they are sent as
 */
export function readClassifyRequest(
  input: ClassifyImageInput | Buffer,
  contentType: string,
): ClassifyRequest {
  if (Buffer.isBuffer(input)) {
    const { type, params } = parseParams(contentType);
    checkSize('content', input.length);
    const declared = (Object.keys(IMAGE_MEDIA_TYPES) as ImageFormat[]).find(
      (f) => IMAGE_MEDIA_TYPES[f] === type,
    );
    if (declared && sniffImageFormat(input) === undefined) {
      throw new CapabilityError(
        'INVALID_INPUT',
        `content: is not a valid ${declared} image (sent as ${type}, its first bytes are no image format)`,
        { format: declared },
      );
    }
    const threshold = params.get('threshold');
    return {
      images: [input],
      batch: false,
      threshold: threshold === undefined ? undefined : parseThreshold(threshold),
    };
  }
  const encoded = input.images ?? (input.image === undefined ? [] : [input.image]);
  const field = input.images ? 'images' : 'image';
  const images = encoded.map((text, index) => {
    const name = input.images ? `${field}[${index}]` : field;
    if (text.length % 4 !== 0)
      throw new CapabilityError('INVALID_INPUT', `${name}: base64 length must be a multiple of 4`);
    checkSize(name, (text.length / 4) * 3 - (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0));
    return Buffer.from(text, 'base64');
  });
  return { images, batch: input.images !== undefined, threshold: input.threshold };
}

function checkSize(name: string, bytes: number): void {
  if (bytes > MAX_IMAGE_BYTES) {
    throw new CapabilityError(
      'PAYLOAD_TOO_LARGE',
      `${name}: ${bytes} bytes is more than an image may be (${MAX_IMAGE_BYTES} bytes)`,
      { bytes, maxBytes: MAX_IMAGE_BYTES },
    );
  }
}

/** The media type and its parameters; only `threshold` is known. */
function parseParams(contentType: string): { type: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  for (const part of contentType.split(';').slice(1)) {
    if (part.trim() === '') continue;
    const [name = '', ...value] = part.split('=');
    const key = name.trim().toLowerCase();
    if (key !== 'threshold') {
      throw new CapabilityError(
        'INVALID_INPUT',
        `content-type parameter ${key.slice(0, 40) || '(empty)'}: not known (classify.image takes threshold)`,
      );
    }
    if (params.has(key))
      throw new CapabilityError('INVALID_INPUT', `content-type parameter ${key}: give it once`);
    params.set(
      key,
      value
        .join('=')
        .trim()
        .replace(/^"(.*)"$/, '$1'),
    );
  }
  return { type: mediaTypeOf(contentType), params };
}

function parseThreshold(raw: string): number {
  const value = Number(raw);
  if (raw === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new CapabilityError(
      'INVALID_INPUT',
      `content-type parameter threshold: must be a number from 0 to 1 (got "${raw.slice(0, 40)}")`,
    );
  }
  return value;
}
