import sharp, { type Sharp } from 'sharp';
import { ConversionError } from '../conversion-error.js';
import type { ConvertOptions, Converted } from '../conversion.js';
import type { ImageFormat } from '../formats.js';
import { invalidFile } from './invalid-file.js';

/**
 * Most pixels an image may decode to (10,000 x 10,000): a small file that decodes to gigabytes
 * (a decompression bomb) fails with PAYLOAD_TOO_LARGE instead.
 */
export const MAX_PIXELS = 100_000_000;

/**
 * One raster image to another format (sharp): turned upright by its EXIF orientation, resized
 * when `width` or `height` is given (`fit`, default `inside`: kept whole, aspect kept), encoded at
 * `quality`. JPEG has no transparency: transparent parts become white. TIFF is written lossless
 * (LZW), so `quality` does not apply to it.
 *
 * @throws ConversionError INVALID_INPUT for a corrupt or truncated image, PAYLOAD_TOO_LARGE past
 *   {@link MAX_PIXELS}
 */
export async function convertImage(
  bytes: Buffer,
  from: ImageFormat,
  to: ImageFormat,
  options: ConvertOptions,
): Promise<Converted> {
  let pipeline = openImage(bytes).rotate();
  if (options.width !== undefined || options.height !== undefined) {
    pipeline = pipeline.resize({
      width: options.width,
      height: options.height,
      fit: options.fit ?? 'inside',
    });
  }
  if (to === 'jpeg') pipeline = pipeline.flatten({ background: '#ffffff' });
  const warnings =
    to === 'tiff' && options.quality !== undefined
      ? ['options.quality: does not apply to TIFF output (written lossless, LZW); ignored']
      : [];
  try {
    const { data, info } = await encode(pipeline, to, options.quality).toBuffer({ resolveWithObject: true });
    return { output: data, metadata: { width: info.width, height: info.height }, warnings };
  } catch (error) {
    throw imageError(from, error);
  }
}

/** A sharp pipeline over `bytes` that refuses decompression bombs and reads only the first frame. */
export function openImage(bytes: Buffer): Sharp {
  return sharp(bytes, { limitInputPixels: MAX_PIXELS, animated: false });
}

/** The error for an image sharp could not read: PAYLOAD_TOO_LARGE past the pixel limit, else INVALID_INPUT. */
export function imageError(format: ImageFormat, error: unknown): ConversionError {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) {
    return new ConversionError(
      'PAYLOAD_TOO_LARGE',
      `content: the ${format} image decodes to more than ${MAX_PIXELS} pixels`,
      { format, maxPixels: MAX_PIXELS },
    );
  }
  return invalidFile(format, error);
}

function encode(pipeline: Sharp, to: ImageFormat, quality: number | undefined): Sharp {
  const q = quality === undefined ? {} : { quality };
  switch (to) {
    case 'png':
      // A quality makes sharp quantise to a palette, PNG's only lossy option.
      return pipeline.png(quality === undefined ? {} : { quality, palette: true });
    case 'jpeg':
      return pipeline.jpeg(q);
    case 'webp':
      return pipeline.webp(q);
    case 'avif':
      return pipeline.avif(q);
    case 'tiff':
      return pipeline.tiff({ compression: 'lzw' });
  }
}
