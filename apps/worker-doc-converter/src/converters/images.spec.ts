import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from '@jest/globals';
import sharp from 'sharp';
import { ConversionError } from '../conversion-error.js';
import { convert, type ConvertJob, type ConvertResult } from '../conversion.js';
import { IMAGE_FORMATS, type ImageFormat } from '../formats.js';

const FIXTURES = new URL('../../test/fixtures/', import.meta.url);
/** Two lines rendered in DejaVu Serif at 300 dpi (PNG, and JPEG at quality 90). */
const OCR_PNG = readFileSync(new URL('ocr-invoice.png', FIXTURES));
const OCR_JPEG = readFileSync(new URL('ocr-invoice.jpg', FIXTURES));
const OCR_LINES = ['Hello Crank 42', 'Total due 1234 EUR'];

function run(
  source: Uint8Array,
  from: ImageFormat,
  to: ConvertJob['to'],
  options: ConvertJob['options'] = {},
): Promise<ConvertResult> {
  return convert({ source, from, to, options, charset: 'utf-8' });
}

async function failure(job: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await job.then(
    () => {
      throw new Error('the conversion succeeded');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConversionError);
  const { code, message } = error as ConversionError;
  return { code, message };
}

/** A 64 x 48 picture: red on the left, blue on the right, so that a conversion that mangles it shows. */
function picture(): Promise<Buffer> {
  const pixels = Buffer.alloc(64 * 48 * 3);
  for (let i = 0; i < 64 * 48; i++) pixels.set(i % 64 < 32 ? [220, 30, 30] : [30, 30, 220], i * 3);
  return sharp(pixels, { raw: { width: 64, height: 48, channels: 3 } })
    .png()
    .toBuffer();
}

/** Mean colour of the left and right halves of an image. */
async function halves(image: Uint8Array): Promise<number[][]> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const sums = [
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let i = 0; i < info.width * info.height; i++) {
    const half = sums[i % info.width < info.width / 2 ? 0 : 1] as number[];
    for (let c = 0; c < 3; c++) half[c] = (half[c] ?? 0) + (data[i * 3 + c] ?? 0);
  }
  const count = (info.width * info.height) / 2;
  return sums.map((half) => half.map((sum) => Math.round(sum / count)));
}

const encoded = new Map<ImageFormat, Buffer>();

beforeAll(async () => {
  const png = await picture();
  for (const format of IMAGE_FORMATS) {
    encoded.set(format, format === 'png' ? png : Buffer.from((await run(png, 'png', format)).data));
  }
});

describe('images', () => {
  const pairs = IMAGE_FORMATS.flatMap((from) => IMAGE_FORMATS.map((to) => [from, to] as const));

  it.each(pairs)('%s -> %s keeps the picture', async (from, to) => {
    const result = await run(encoded.get(from) as Buffer, from, to);
    expect(result.mediaType).toBe(`image/${to}`);
    expect(result.metadata).toEqual({ width: 64, height: 48 });
    expect((await sharp(result.data).metadata()).format).toBe(
      to === 'tiff' ? 'tiff' : to === 'avif' ? 'heif' : to,
    );
    const [left, right] = await halves(result.data);
    expect(left?.[0]).toBeGreaterThan(150); // still red on the left
    expect(right?.[2]).toBeGreaterThan(150); // and blue on the right
  });

  it('resizes: inside keeps the aspect, fill takes both sides, cover crops', async () => {
    const png = encoded.get('png') as Buffer;
    expect((await run(png, 'png', 'webp', { width: 32 })).metadata).toEqual({ width: 32, height: 24 });
    expect((await run(png, 'png', 'png', { width: 32, height: 32 })).metadata).toEqual({
      width: 32,
      height: 24,
    });
    expect((await run(png, 'png', 'jpeg', { width: 10, height: 30, fit: 'fill' })).metadata).toEqual({
      width: 10,
      height: 30,
    });
    expect((await run(png, 'png', 'avif', { width: 20, height: 20, fit: 'cover' })).metadata).toEqual({
      width: 20,
      height: 20,
    });
  });

  it('encodes at the quality asked for', async () => {
    const photo = await sharp({
      create: {
        width: 256,
        height: 256,
        channels: 3,
        background: '#808080',
        noise: { type: 'gaussian', mean: 128, sigma: 40 },
      },
    })
      .png()
      .toBuffer();
    for (const to of ['jpeg', 'webp', 'avif'] as const) {
      const low = await run(photo, 'png', to, { quality: 20 });
      const high = await run(photo, 'png', to, { quality: 95 });
      expect(low.data.byteLength).toBeLessThan(high.data.byteLength);
    }
    expect((await run(photo, 'png', 'tiff', { quality: 20 })).warnings).toEqual([
      'options.quality: does not apply to TIFF output (written lossless, LZW); ignored',
    ]);
  });

  it('puts transparent pixels on white for JPEG', async () => {
    const clear = await sharp({
      create: { width: 8, height: 8, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    const [left] = await halves((await run(clear, 'png', 'jpeg')).data);
    expect(left).toEqual([255, 255, 255]);
  });

  it('refuses an image that decodes to more than 100 megapixels', async () => {
    const huge = await sharp({ create: { width: 12_000, height: 9_000, channels: 3, background: '#000' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    expect(await failure(run(huge, 'png', 'webp'))).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: 'content: the png image decodes to more than 100000000 pixels',
    });
  });
});

describe('OCR', () => {
  it.each([
    ['png', OCR_PNG],
    ['jpeg', OCR_JPEG],
  ] as const)('reads the known text of a %s', async (from, image) => {
    const result = await run(image, from, 'text');
    expect(result.mediaType).toBe('text/plain; charset=utf-8');
    const lines = Buffer.from(result.data).toString('utf8').trim().split('\n');
    expect(lines.map((line) => line.replace(/\s+/g, ' '))).toEqual(OCR_LINES);
    expect(result.metadata).toEqual({ width: 576, height: 163 });
  });

  it('finds no text in a picture without any', async () => {
    const result = await run(encoded.get('png') as Buffer, 'png', 'text');
    expect(Buffer.from(result.data).toString('utf8')).toBe('');
    expect(result.warnings).toEqual(['no text found in the image']);
  });
});

describe('corrupt images get INVALID_INPUT with a message', () => {
  it.each(IMAGE_FORMATS.map((format) => [format]))('a truncated %s', async (format) => {
    const image = encoded.get(format) as Buffer;
    for (const to of format === 'png' || format === 'jpeg'
      ? (['webp', 'text'] as const)
      : (['png'] as const)) {
      const { code, message } = await failure(
        run(image.subarray(0, Math.floor(image.length * 0.6)), format, to),
      );
      expect(code).toBe('INVALID_INPUT');
      expect(message).toMatch(new RegExp(`^content: is not a valid ${format} file \\(.+\\)$`));
    }
  });

  it('a PNG with its pixel data overwritten', async () => {
    const png = Buffer.from(encoded.get('png') as Buffer);
    png.fill(0xff, 60, png.length - 20);
    expect((await failure(run(png, 'png', 'jpeg'))).code).toBe('INVALID_INPUT');
  });
});
