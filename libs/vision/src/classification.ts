import { CapabilityError, type ImageClassification } from '@crank/capabilities';
import { ImageError } from './image-error.js';
import { decodeImage, type ModelImage } from './decode-image.js';
import type { CompiledPreprocessOptions } from './preprocess-options.js';

/** What {@link classificationOf} needs of a model: its class labels and which count as unsafe. */
export interface ClassLabels {
  labels: readonly string[];
  unsafeLabels: readonly string[];
}

/**
 * One image's `classify.image` answer from the model's probability `row`: the top label, every
 * class's score, the unsafe labels' summed score and `safe` against `threshold`.
 */
export function classificationOf(
  row: Float32Array,
  image: ModelImage,
  classes: ClassLabels,
  threshold: number,
): ImageClassification {
  const scores: Record<string, number> = {};
  let best = 0;
  classes.labels.forEach((label, index) => {
    scores[label] = clamp(row[index] ?? 0);
    if ((row[index] ?? 0) > (row[best] ?? 0)) best = index;
  });
  const unsafeScore = clamp(classes.unsafeLabels.reduce((sum, label) => sum + (scores[label] ?? 0), 0));
  const label = classes.labels[best] as string;
  return {
    label,
    score: scores[label] ?? 0,
    scores,
    unsafeScore,
    safe: unsafeScore < threshold,
    width: image.width,
    height: image.height,
  };
}

/** An image error of the `index`th image of a batch, renamed to its field (`images[3]: ...`). */
export function batchImageError(error: unknown, index: number): unknown {
  if (!(error instanceof ImageError)) return error;
  const name = `images[${index}]`;
  return new CapabilityError(
    error.code,
    error.message.replace(/^image:/, `${name}:`),
    { ...error.details, index },
    { cause: error },
  );
}

/** Float32 softmax output can stray past 1 by an ulp; the contract says 0 to 1. */
function clamp(value: number): number {
  return Math.min(1, Math.max(0, value));
}

/** How {@link classifyImages} runs the model: the batcher a worker feeds, and what it needs. */
export interface ClassifyImagesOptions {
  preprocess: CompiledPreprocessOptions;
  classes: ClassLabels;
  /** Most images one inference takes; a call carrying more is split. */
  maxBatch: number;
  /** Runs one inference on up to `maxBatch` images: a probability row each, in order. */
  submit(images: ModelImage[], signal: AbortSignal): Promise<Float32Array[]>;
}

/**
 * Classifies `images` in the order given: decodes them all (an undecodable one fails the call,
 * named `image` or `images[i]` after `field`), runs them in chunks of `maxBatch`, and reads each
 * row with `safe` judged against `threshold`. The CPU and the GPU worker differ only in `submit`.
 *
 * @throws ImageError (a CrankError) for an image that cannot be decoded, naming it
 */
export async function classifyImages(
  images: readonly Buffer[],
  threshold: number,
  signal: AbortSignal,
  field: 'image' | 'images',
  options: ClassifyImagesOptions,
): Promise<ImageClassification[]> {
  const decoded = await Promise.all(
    images.map((bytes, index) =>
      decodeImage(bytes, options.preprocess).catch((error: unknown) => {
        throw field === 'images' ? batchImageError(error, index) : error;
      }),
    ),
  );
  const chunks: ModelImage[][] = [];
  for (let at = 0; at < decoded.length; at += options.maxBatch) {
    chunks.push(decoded.slice(at, at + options.maxBatch));
  }
  const rows = (await Promise.all(chunks.map((chunk) => options.submit(chunk, signal)))).flat();
  return rows.map((row, index) =>
    classificationOf(row, decoded[index] as ModelImage, options.classes, threshold),
  );
}
