import sharp from 'sharp';
import { ImageError } from './image-error.js';
import { sniffImageFormat, type ImageFormat } from './image-format.js';
import type { CompiledPreprocessOptions } from './preprocess-options.js';

/** Longest decoder message quoted in an error: enough to say what broke, never a dump of the file. */
const MAX_REASON_CHARS = 300;

/** An image decoded for a model: upright, on its background, resized to the model's square. */
export interface ModelImage {
  /** The format its bytes are in. */
  readonly format: ImageFormat;
  /** Size of the image as shown (after its EXIF orientation), before resizing. */
  readonly width: number;
  readonly height: number;
  /** `size x size` RGB pixels, row by row, channels last (3 bytes a pixel). */
  readonly pixels: Uint8Array;
}

/**
 * Decodes an image (JPEG, PNG, WebP, AVIF, or a GIF's first frame) with sharp, turns it upright
 * by its EXIF orientation, puts transparency on `background`, converts it to sRGB (grey and CMYK
 * images too) and resizes it to `size x size`, aspect not kept, as the classifiers this feeds were
 * trained. The decoding runs in libvips' threads, off the event loop.
 *
 * @throws ImageError UNSUPPORTED_FORMAT when the bytes are none of those formats, INVALID_INPUT
 *   when the image is corrupt or truncated, PAYLOAD_TOO_LARGE past `maxPixels`
 */
export async function decodeImage(
  bytes: Uint8Array,
  options: CompiledPreprocessOptions,
): Promise<ModelImage> {
  const format = sniffImageFormat(bytes);
  if (!format) {
    throw new ImageError(
      'UNSUPPORTED_FORMAT',
      'image: is not JPEG, PNG, WebP, GIF or AVIF (judged by its first bytes)',
      { bytes: bytes.length },
    );
  }
  try {
    const image = sharp(bytes, { limitInputPixels: options.maxPixels, animated: false, failOn: 'error' });
    // The header only; the same instance then decodes. EXIF orientations 5 to 8 swap the sides.
    const { width = 0, height = 0, orientation = 1 } = await image.metadata();
    const { data, info } = await image
      .autoOrient()
      .flatten({ background: options.background })
      .toColourspace('srgb')
      .resize(options.size, options.size, { fit: 'fill' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== options.size * options.size * 3)
      throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return {
      format,
      width: orientation >= 5 ? height : width,
      height: orientation >= 5 ? width : height,
      pixels: new Uint8Array(data.buffer, data.byteOffset, data.length),
    };
  } catch (error) {
    throw imageError(format, error, options.maxPixels);
  }
}

function imageError(format: ImageFormat, error: unknown, maxPixels: number): ImageError {
  const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
  if (/pixel limit/i.test(reason)) {
    return new ImageError(
      'PAYLOAD_TOO_LARGE',
      `image: the ${format} image decodes to more than ${maxPixels} pixels`,
      { format, maxPixels },
      error,
    );
  }
  const cut = reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}...` : reason;
  return new ImageError(
    'INVALID_INPUT',
    `image: is not a valid ${format} image (${cut || 'unreadable'})`,
    { format },
    error,
  );
}
