import { Module, type DynamicModule } from '@nestjs/common';
import { CrankWorkerModule } from '@crank/worker-runtime/nest';
import { SERVED_CAPABILITIES } from './capabilities.js';
import { CLASSIFIER_CONFIG, type ClassifierConfig } from './classifier-config.js';
import { EmailClassifierHandlers } from './email-classifier.handlers.js';
import { SpamModelLoader } from './spam-model-loader.js';
import { SpamModelSlot } from './spam-model-slot.js';

/** The email-classifier worker: the runtime, the handlers and the model's loader. */
@Module({})
export class AppModule {
  static forRoot(config: ClassifierConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CrankWorkerModule.forRoot({
          name: 'email-classifier',
          capabilities: [...SERVED_CAPABILITIES],
          logger: config.logger,
        }),
      ],
      providers: [
        { provide: CLASSIFIER_CONFIG, useValue: config },
        SpamModelSlot,
        SpamModelLoader,
        EmailClassifierHandlers,
      ],
    };
  }
}
