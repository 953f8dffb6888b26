import { CapabilityError, type ImageClassification } from '@crank/capabilities';
import { ImageError } from './image-error.js';
import type { ModelImage } from './decode-image.js';

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
