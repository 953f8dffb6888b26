import type { ImageClassification } from '@crank/capabilities';
import {
  DynamicBatcher,
  classifyImages,
  toTensor,
  type CompiledPreprocessOptions,
  type ModelImage,
} from '@crank/vision';
import type { ImageModel } from './image-model.js';

/** Options of an {@link ImageClassifier}. */
export interface ImageClassifierOptions {
  /** How images become the model's input. */
  preprocess: CompiledPreprocessOptions;
  /** Labels whose summed score is `unsafeScore`. */
  unsafeLabels: readonly string[];
  batchWindowMs: number;
  maxBatch: number;
}

/**
 * Classifies images with a model: decodes each call's images (in libvips' threads, calls in
 * parallel), then runs them in dynamic batches with those of concurrent calls, and reads each
 * row of probabilities as a label, scores and a safety verdict.
 */
export class ImageClassifier {
  private readonly batcher: DynamicBatcher<ModelImage, Float32Array>;

  constructor(
    private readonly model: ImageModel,
    private readonly options: ImageClassifierOptions,
  ) {
    const unknown = options.unsafeLabels.filter((label) => !model.labels.includes(label));
    if (unknown.length > 0)
      throw new RangeError(`unsafeLabels: ${unknown.join(', ')} are not labels of ${model.name}`);
    this.batcher = new DynamicBatcher((images) => model.classify(toTensor(images, options.preprocess)), {
      windowMs: options.batchWindowMs,
      maxBatch: options.maxBatch,
    });
  }

  /** The model's name and version. */
  get modelName(): string {
    return this.model.name;
  }

  /**
   * Classifies `images` in the order given; `safe` is judged against `threshold`.
   *
   * @param field - how errors name the images: `image`, or `images` for `images[i]`
   * @throws ImageError (a CrankError) for an image that cannot be decoded, naming it
   */
  async classify(
    images: readonly Buffer[],
    threshold: number,
    signal: AbortSignal,
    field: 'image' | 'images' = 'image',
  ): Promise<ImageClassification[]> {
    // A call may carry more images than one inference takes (CRANK_IMAGE_MAX_BATCH below 64).
    return classifyImages(images, threshold, signal, field, {
      preprocess: this.options.preprocess,
      classes: { labels: this.model.labels, unsafeLabels: this.options.unsafeLabels },
      maxBatch: this.options.maxBatch,
      submit: (chunk, chunkSignal) => this.batcher.submit(chunk, chunkSignal),
    });
  }

  /** One inference on a grey image, so that the first call does not pay onnxruntime's set-up. */
  async warmUp(): Promise<void> {
    const { size } = this.options.preprocess;
    const grey: ModelImage = {
      format: 'png',
      width: size,
      height: size,
      pixels: new Uint8Array(size * size * 3).fill(128),
    };
    await this.batcher.submit([grey]);
  }

  /** Stops taking calls (UNAVAILABLE to those waiting), then frees the model. */
  async close(): Promise<void> {
    await this.batcher.close();
    await this.model.close();
  }
}
