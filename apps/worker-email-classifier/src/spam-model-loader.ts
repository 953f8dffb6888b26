import { Inject, Injectable, type OnApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { CLASSIFY_EMAIL } from '@crank/capabilities';
import { CrankWorkerHost } from '@crank/worker-runtime/nest';
import { CLASSIFIER_CONFIG, type ClassifierConfig } from './classifier-config.js';
import { SpamModel } from './spam-model.js';
import { SpamModelSlot } from './spam-model-slot.js';

/**
 * Loads the spam model once, after the worker has registered (so that callers meanwhile get
 * MODEL_NOT_READY, and the controller routes elsewhere), then marks `classify.email` ready. A model
 * that fails to load is logged and the capability stays not ready: the worker still serves
 * `classify.sentiment`, and its readiness says what is wrong.
 */
@Injectable()
export class SpamModelLoader implements OnApplicationBootstrap, OnApplicationShutdown {
  /** The load in progress or done; awaited on shutdown so that no session outlives the app. */
  private loading: Promise<void> | undefined;

  constructor(
    @Inject(CLASSIFIER_CONFIG) private readonly config: ClassifierConfig,
    @Inject(SpamModelSlot) private readonly slot: SpamModelSlot,
    @Inject(CrankWorkerHost) private readonly host: CrankWorkerHost,
  ) {}

  // Nest runs the worker module's bootstrap (start, register) before this one: it is imported.
  onApplicationBootstrap(): void {
    this.loading = this.load();
  }

  // After every module's beforeApplicationShutdown: the worker has drained, no call runs the model.
  async onApplicationShutdown(): Promise<void> {
    await this.loading;
    const model = this.slot.model;
    this.slot.model = undefined;
    await model?.close();
  }

  private async load(): Promise<void> {
    const { logger, modelDir } = this.config;
    const started = performance.now();
    try {
      const model = await SpamModel.load(modelDir);
      this.slot.model = model;
      this.host.worker.setReady(CLASSIFY_EMAIL.id, true);
      logger.info(
        { event: 'model_loaded', model: model.card.model, ms: Math.round(performance.now() - started) },
        'spam model loaded',
      );
    } catch (error) {
      logger.error({ event: 'model_load_failed', modelDir, err: error }, 'spam model failed to load');
      this.host.worker.setReady(
        CLASSIFY_EMAIL.id,
        false,
        `model failed to load: ${(error as Error).message}`,
      );
    }
  }
}
