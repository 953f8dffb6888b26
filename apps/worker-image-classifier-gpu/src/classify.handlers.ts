import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { ClassifyImageInput, ClassifyImageOutput } from '@crank/capabilities';
import { CapabilityError, type HandlerContext } from '@crank/worker-runtime';
import { CapabilityHandler, CrankWorkerHost } from '@crank/worker-runtime/nest';
import type { Logger } from 'pino';
import { CLASSIFY } from './classify-capability.js';
import { readClassifyRequest } from '@crank/vision';
import type { CompiledGpuClassifierOptions } from './gpu-classifier-options.js';
import type { GpuImageClassifier } from './gpu-image-classifier.js';

/** Nest token of the {@link CompiledGpuClassifierOptions}. */
export const GPU_CLASSIFIER_OPTIONS = Symbol('gpu-classifier-options');
/** Nest token of a {@link GpuClassifierFactory}. */
export const GPU_CLASSIFIER_FACTORY = Symbol('gpu-classifier-factory');
/** Nest token of the worker's pino logger. */
export const LOGGER = Symbol('logger');

/** Loads the kernels and answers a classifier, or why there is none. Never throws. */
export type GpuClassifierFactory = () => Promise<
  | {
      readonly ok: true;
      readonly classifier: GpuImageClassifier;
      readonly modelName: string;
      readonly maxDiff: number;
    }
  | { readonly ok: false; readonly reason: string }
>;

/**
 * `classify.image` on the GPU: served from start-up but not ready until the CUDA kernels loaded,
 * the device was found and a warm-up batch matched the CPU reference. Where any of those fails (no
 * nvcc at build, no GPU) the worker keeps running, registered, with the capability not ready and
 * the reason in its status, so the controller routes calls to the CPU worker instead.
 */
@Injectable()
export class ClassifyHandlers implements OnApplicationBootstrap, OnApplicationShutdown {
  /** Set once the kernels loaded and warmed up; the capability turns ready then. */
  private classifier: { instance: GpuImageClassifier; modelName: string } | undefined;

  constructor(
    @Inject(GPU_CLASSIFIER_OPTIONS) private readonly options: CompiledGpuClassifierOptions,
    @Inject(GPU_CLASSIFIER_FACTORY) private readonly createClassifier: GpuClassifierFactory,
    @Inject(CrankWorkerHost) private readonly host: CrankWorkerHost,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @CapabilityHandler(CLASSIFY, { ready: false, reason: 'loading the CUDA kernels' })
  async classify(input: ClassifyImageInput | Buffer, ctx: HandlerContext): Promise<ClassifyImageOutput> {
    const classifier = this.classifier;
    if (!classifier)
      throw new CapabilityError('MODEL_NOT_READY', 'classify.image: the CUDA kernels are not ready');
    const request = readClassifyRequest(input, ctx.contentType);
    const threshold = request.threshold ?? this.options.unsafeThreshold;
    const results = await classifier.instance.classify(
      request.images,
      threshold,
      ctx.signal,
      request.batch ? 'images' : 'image',
    );
    const answer = { threshold, model: classifier.modelName, device: 'gpu' as const };
    return request.batch
      ? { results, ...answer }
      : { ...(results[0] as (typeof results)[number]), ...answer };
  }

  /**
   * Runs after the worker has started: loads the kernels and warms them up, then turns
   * `classify.image` ready, or leaves it not ready with the reason.
   */
  async onApplicationBootstrap(): Promise<void> {
    const started = performance.now();
    const loaded = await this.createClassifier();
    if (!loaded.ok) {
      this.host.worker.setReady(CLASSIFY.id, false, loaded.reason);
      this.logger.warn(
        { event: 'gpu_unavailable', reason: loaded.reason },
        `classify.image stays not ready: ${loaded.reason}`,
      );
      return;
    }
    this.classifier = { instance: loaded.classifier, modelName: loaded.modelName };
    this.host.worker.setReady(CLASSIFY.id, true);
    this.logger.info(
      {
        event: 'model_ready',
        model: loaded.modelName,
        loadMs: Math.round(performance.now() - started),
        warmUpMaxDiff: loaded.maxDiff,
        device: this.options.device,
        streams: this.options.streams,
        maxBatch: this.options.maxBatch,
      },
      'CUDA kernels loaded and matched the CPU reference; classify.image is ready',
    );
  }

  /** Frees the device context, after the worker has drained (Nest runs this hook last). */
  async onApplicationShutdown(): Promise<void> {
    await this.classifier?.instance.close();
  }
}
