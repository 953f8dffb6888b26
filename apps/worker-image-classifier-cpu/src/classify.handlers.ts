import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { ClassifyImageInput, ClassifyImageOutput } from '@crank/capabilities';
import { CapabilityError, type HandlerContext } from '@crank/worker-runtime';
import { CapabilityHandler, CrankWorkerHost } from '@crank/worker-runtime/nest';
import type { Logger } from 'pino';
import { CLASSIFY } from './classify-capability.js';
import { readClassifyRequest } from '@crank/vision';
import type { CompiledClassifierOptions } from './classifier-options.js';
import type { ImageClassifier } from './image-classifier.js';

/** Nest token of the {@link CompiledClassifierOptions}. */
export const CLASSIFIER_OPTIONS = Symbol('classifier-options');
/** Nest token of a function that loads the model and answers a ready {@link ImageClassifier}. */
export const CLASSIFIER_FACTORY = Symbol('classifier-factory');
/** Nest token of the worker's pino logger. */
export const LOGGER = Symbol('logger');

/** Makes the classifier: loads the model (seconds). */
export type ClassifierFactory = () => Promise<ImageClassifier>;

/**
 * `classify.image`: served from start-up but not ready (calls get MODEL_NOT_READY, or go to
 * another worker) until the model has loaded and one warm-up inference has run; then each call's
 * images are decoded and classified in dynamic batches with those of concurrent calls.
 */
@Injectable()
export class ClassifyHandlers implements OnApplicationBootstrap, OnApplicationShutdown {
  /** Set once the model has loaded and warmed up; the capability turns ready then. */
  private classifier: ImageClassifier | undefined;

  constructor(
    @Inject(CLASSIFIER_OPTIONS) private readonly options: CompiledClassifierOptions,
    @Inject(CLASSIFIER_FACTORY) private readonly createClassifier: ClassifierFactory,
    @Inject(CrankWorkerHost) private readonly host: CrankWorkerHost,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @CapabilityHandler(CLASSIFY, { ready: false, reason: 'loading the model' })
  async classify(input: ClassifyImageInput | Buffer, ctx: HandlerContext): Promise<ClassifyImageOutput> {
    const classifier = this.classifier;
    if (!classifier)
      throw new CapabilityError('MODEL_NOT_READY', 'classify.image: the model is still loading');
    const request = readClassifyRequest(input, ctx.contentType);
    const threshold = request.threshold ?? this.options.unsafeThreshold;
    const results = await classifier.classify(
      request.images,
      threshold,
      ctx.signal,
      request.batch ? 'images' : 'image',
    );
    const answer = { threshold, model: classifier.modelName, device: 'cpu' as const };
    return request.batch
      ? { results, ...answer }
      : { ...(results[0] as (typeof results)[number]), ...answer };
  }

  /**
   * Runs after the worker has started (the runtime's module boots first): loads the model, runs
   * one inference, then turns `classify.image` ready.
   */
  async onApplicationBootstrap(): Promise<void> {
    const started = performance.now();
    const classifier = await this.createClassifier();
    const loadedMs = performance.now() - started;
    await classifier.warmUp();
    this.classifier = classifier;
    this.host.worker.setReady(CLASSIFY.id, true);
    this.logger.info(
      {
        event: 'model_ready',
        model: classifier.modelName,
        loadMs: Math.round(loadedMs),
        warmUpMs: Math.round(performance.now() - started - loadedMs),
        threads: this.options.threads,
        batchWindowMs: this.options.batchWindowMs,
        maxBatch: this.options.maxBatch,
      },
      'model loaded and warmed up; classify.image is ready',
    );
  }

  /** Frees the model, after the worker has drained (Nest runs this hook last). */
  async onApplicationShutdown(): Promise<void> {
    await this.classifier?.close();
  }
}
