import { describe, expect, it } from '@jest/globals';
import sharp, { type Sharp } from 'sharp';
import { decodeImage } from './decode-image.js';
import { ImageError } from './image-error.js';
import { compilePreprocessOptions } from './preprocess-options.js';

const RED = { r: 255, g: 0, b: 0 };
const BLUE = { r: 0, g: 0, b: 255 };

/** A `width x height` PNG: left half red, right half blue. */
async function halves(width: number, height: number): Promise<Sharp> {
  const half = await sharp({ create: { width: width / 2, height, channels: 3, background: BLUE } })
    .png()
    .toBuffer();
  return sharp({ create: { width, height, channels: 3, background: RED } }).composite([
    { input: half, left: width / 2, top: 0 },
  ]);
}

/** The RGB of pixel (x, y) of a decoded `size x size` image. */
function pixel(pixels: Uint8Array, size: number, x: number, y: number): number[] {
  const at = (y * size + x) * 3;
  return [pixels[at], pixels[at + 1], pixels[at + 2]] as number[];
}

describe('decodeImage', () => {
  const options = compilePreprocessOptions({ size: 8 });

  it('resizes to the square, channels last, and reports the size as shown', async () => {
    const png = await (await halves(64, 32)).png().toBuffer();
    const image = await decodeImage(png, options);
    expect(image).toMatchObject({ format: 'png', width: 64, height: 32 });
    expect(image.pixels).toHaveLength(8 * 8 * 3);
    expect(pixel(image.pixels, 8, 0, 4)).toEqual([255, 0, 0]);
    expect(pixel(image.pixels, 8, 7, 4)).toEqual([0, 0, 255]);
  });

  it('turns a JPEG upright by its EXIF orientation (6: rotate 90 degrees clockwise)', async () => {
    // Stored 64 x 32, red left and blue right; orientation 6 shows it 32 x 64, red on top.
    const jpeg = await (
      await halves(64, 32)
    )
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const image = await decodeImage(jpeg, options);
    expect(image).toMatchObject({ format: 'jpeg', width: 32, height: 64 });
    const top = pixel(image.pixels, 8, 4, 0);
    const bottom = pixel(image.pixels, 8, 4, 7);
    expect(top[0]).toBeGreaterThan(200);
    expect(top[2]).toBeLessThan(60);
    expect(bottom[2]).toBeGreaterThan(200);
    expect(bottom[0]).toBeLessThan(60);
  });

  it('reads the first frame of an animated GIF', async () => {
    const gif = await makeAnimatedGif();
    expect((await sharp(gif, { pages: -1 }).metadata()).pages).toBe(2);
    const image = await decodeImage(gif, options);
    expect(image).toMatchObject({ format: 'gif', width: 16, height: 16 });
    expect(pixel(image.pixels, 8, 4, 4)).toEqual([255, 0, 0]);
  });

  it('puts transparency on white and reads grey images as RGB', async () => {
    const clear = await sharp({
      create: { width: 4, height: 4, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    expect(pixel((await decodeImage(clear, options)).pixels, 8, 3, 3)).toEqual([255, 255, 255]);
    const grey = await sharp({
      create: { width: 4, height: 4, channels: 3, background: { r: 90, g: 90, b: 90 } },
    })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect(pixel((await decodeImage(grey, options)).pixels, 8, 3, 3)).toEqual([90, 90, 90]);
  });

  it('decodes WebP and AVIF', async () => {
    const source = sharp({ create: { width: 16, height: 16, channels: 3, background: RED } });
    for (const bytes of [await source.clone().webp().toBuffer(), await source.clone().avif().toBuffer()]) {
      const image = await decodeImage(bytes, options);
      expect(pixel(image.pixels, 8, 4, 4)[0]).toBeGreaterThan(200);
    }
  });

  it('fails a truncated image with INVALID_INPUT naming the format', async () => {
    const jpeg = await (await halves(64, 32)).jpeg().toBuffer();
    const error = await decodeImage(jpeg.subarray(0, jpeg.length / 2), options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageError);
    expect(error).toMatchObject({ code: 'INVALID_INPUT', details: { format: 'jpeg' } });
    expect((error as Error).message).toMatch(/^image: is not a valid jpeg image \(/);
  });

  it('fails bytes of no image format with UNSUPPORTED_FORMAT', async () => {
    const error = await decodeImage(Buffer.from('%PDF-1.7\n'), options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageError);
    expect(error).toMatchObject({
      code: 'UNSUPPORTED_FORMAT',
      message: 'image: is not JPEG, PNG, WebP, GIF or AVIF (judged by its first bytes)',
    });
  });

  it('fails an image past the pixel limit with PAYLOAD_TOO_LARGE', async () => {
    const png = await sharp({ create: { width: 100, height: 100, channels: 3, background: RED } })
      .png()
      .toBuffer();
    const error = await decodeImage(png, compilePreprocessOptions({ size: 8, maxPixels: 9_999 })).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      message: 'image: the png image decodes to more than 9999 pixels',
    });
  });
});

/** A two-frame GIF (red, then blue), 16 x 16. */
async function makeAnimatedGif(): Promise<Buffer> {
  const red = await sharp({ create: { width: 16, height: 16, channels: 3, background: RED } })
    .raw()
    .toBuffer();
  const blue = await sharp({ create: { width: 16, height: 16, channels: 3, background: BLUE } })
    .raw()
    .toBuffer();
  return sharp(Buffer.concat([red, blue]), { raw: { width: 16, height: 32, channels: 3, pageHeight: 16 } })
    .gif()
    .toBuffer();
}
