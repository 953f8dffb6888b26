import { Module } from '@nestjs/common';
import { CrankWorkerModule } from '@crank/worker-runtime/nest';
import { pino } from 'pino';
import { CLASSIFIER_OPTIONS as OPTIONS, CLASSIFY } from './classify-capability.js';
import { CLASSIFIER_FACTORY, CLASSIFIER_OPTIONS, ClassifyHandlers, LOGGER } from './classify.handlers.js';
import { ImageClassifier } from './image-classifier.js';
import { OnnxImageModel } from './image-model.js';
import { NSFW_MODEL } from './nsfw-model.js';

/** One logger for the runtime and the model's start-up lines. */
const logger = pino({ name: 'crank-worker', level: process.env['CRANK_LOG_LEVEL'] ?? 'info' });

@Module({
  imports: [CrankWorkerModule.forRoot({ name: 'image-classifier-cpu', capabilities: [CLASSIFY], logger })],
  providers: [
    { provide: CLASSIFIER_OPTIONS, useValue: OPTIONS },
    { provide: LOGGER, useValue: logger },
    {
      provide: CLASSIFIER_FACTORY,
      useValue: async () =>
        new ImageClassifier(
          await OnnxImageModel.load(NSFW_MODEL.path, {
            threads: OPTIONS.threads,
            name: NSFW_MODEL.name,
            labels: NSFW_MODEL.labels,
          }),
          {
            preprocess: NSFW_MODEL.preprocess,
            unsafeLabels: NSFW_MODEL.unsafeLabels,
            batchWindowMs: OPTIONS.batchWindowMs,
            maxBatch: OPTIONS.maxBatch,
          },
        ),
    },
    ClassifyHandlers,
  ],
})
export class AppModule {}
