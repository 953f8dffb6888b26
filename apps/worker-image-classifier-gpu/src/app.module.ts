import { fileURLToPath } from 'node:url';
import { Module } from '@nestjs/common';
import { CrankWorkerModule } from '@crank/worker-runtime/nest';
import { pino } from 'pino';
import { CLASSIFY, GPU_OPTIONS } from './classify-capability.js';
import {
  ClassifyHandlers,
  GPU_CLASSIFIER_FACTORY,
  GPU_CLASSIFIER_OPTIONS,
  LOGGER,
  type GpuClassifierFactory,
} from './classify.handlers.js';
import { GpuImageClassifier } from './gpu-image-classifier.js';
import { loadKernels } from './kernel-loader.js';
import { NSFW_MODEL } from './nsfw-model.js';

/** One logger for the runtime and the kernels' start-up lines. */
const logger = pino({ name: 'crank-worker', level: process.env['CRANK_LOG_LEVEL'] ?? 'info' });

/** The built libraries, beside main.js in dist/native (copied there by `build`). */
const nativeFile = (name: string): string => fileURLToPath(new URL(`./native/${name}`, import.meta.url));

const createClassifier: GpuClassifierFactory = async () => {
  const loaded = await loadKernels({
    cudaLibrary: nativeFile('libcrank_cuda.so'),
    referenceLibrary: nativeFile('libcrank_ref.so'),
    modelFile: NSFW_MODEL.path,
    device: GPU_OPTIONS.device,
    streams: GPU_OPTIONS.streams,
    memoryMb: GPU_OPTIONS.memoryMb,
    maxBatch: GPU_OPTIONS.maxBatch,
  });
  if (!loaded.ok) return loaded;
  const classifier = new GpuImageClassifier(loaded.context, {
    labels: NSFW_MODEL.labels,
    unsafeLabels: NSFW_MODEL.unsafeLabels,
    preprocess: NSFW_MODEL.preprocess,
    batchWindowMs: GPU_OPTIONS.batchWindowMs,
    streams: GPU_OPTIONS.streams,
  });
  return { ok: true, classifier, modelName: NSFW_MODEL.name, maxDiff: loaded.maxDiff };
};

@Module({
  imports: [CrankWorkerModule.forRoot({ name: 'image-classifier-gpu', capabilities: [CLASSIFY], logger })],
  providers: [
    { provide: GPU_CLASSIFIER_OPTIONS, useValue: GPU_OPTIONS },
    { provide: LOGGER, useValue: logger },
    { provide: GPU_CLASSIFIER_FACTORY, useValue: createClassifier },
    ClassifyHandlers,
  ],
})
export class AppModule {}
