import type { ImageClassification } from '@crank/capabilities';
import {
  DynamicBatcher,
  classifyImages,
  type CompiledPreprocessOptions,
  type ModelImage,
} from '@crank/vision';
import type { CrankContext } from './crank-library.js';

/** Options of a {@link GpuImageClassifier}. */
export interface GpuImageClassifierOptions {
  readonly labels: readonly string[];
  /** Labels whose summed score is `unsafeScore`. */
  readonly unsafeLabels: readonly string[];
  /** How images are decoded and resized (on the CPU, by libvips, as the CPU worker does). */
  readonly preprocess: CompiledPreprocessOptions;
  readonly batchWindowMs: number;
  /** Batches running at once: one per stream of the context. */
  readonly streams: number;
}

/**
 * Classifies images on a kernel context: each call's images are decoded and resized like the CPU
 * worker's (so both give the same answers), then normalised and classified on the device in
 * dynamic batches with those of concurrent calls, one batch per stream at once.
 */
export class GpuImageClassifier {
  private readonly batcher: DynamicBatcher<ModelImage, Float32Array>;

  constructor(
    private readonly context: CrankContext,
    private readonly options: GpuImageClassifierOptions,
  ) {
    this.batcher = new DynamicBatcher(
      async (images) => (await context.run(images.map((image) => image.pixels))).rows,
      { windowMs: options.batchWindowMs, maxBatch: context.maxBatch, maxRunning: options.streams },
    );
  }

  /**
   * Classifies `images` in the order given; `safe` is judged against `threshold`.
   *
   * @throws ImageError (a CrankError) for an image that cannot be decoded, naming it;
   *   CapabilityError UNAVAILABLE or RESOURCE_EXHAUSTED from the device
   */
  async classify(
    images: readonly Buffer[],
    threshold: number,
    signal: AbortSignal,
    field: 'image' | 'images' = 'image',
  ): Promise<ImageClassification[]> {
    return classifyImages(images, threshold, signal, field, {
      preprocess: this.options.preprocess,
      classes: { labels: this.options.labels, unsafeLabels: this.options.unsafeLabels },
      maxBatch: this.context.maxBatch,
      submit: (chunk, chunkSignal) => this.batcher.submit(chunk, chunkSignal),
    });
  }

  /** Stops taking calls (UNAVAILABLE to those waiting), then frees the context. */
  async close(): Promise<void> {
    await this.batcher.close();
    await this.context.close();
  }
}
