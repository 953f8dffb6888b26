import {
  CLASSIFY_IMAGE,
  defineCapability,
  type ClassifyImageInput,
  type ClassifyImageOutput,
} from '@crank/capabilities';
import { compileGpuClassifierOptions } from './gpu-classifier-options.js';

/** This worker's settings, from the environment (`CRANK_GPU_*`). */
export const GPU_OPTIONS = compileGpuClassifierOptions();

/**
 * `classify.image` as this worker declares it: the catalog contract at the same version, with
 * `resources.gpu` (the registry marks the worker a GPU worker, and the router prefers it over a
 * CPU worker serving the same capability; the catalog check does not compare resources) and as
 * many slots as batches of every stream keep busy.
 */
export const CLASSIFY = defineCapability<ClassifyImageInput | Buffer, ClassifyImageOutput>({
  ...CLASSIFY_IMAGE.definition,
  resources: { ...CLASSIFY_IMAGE.definition.resources, gpu: true, maxConcurrency: GPU_OPTIONS.concurrency },
});
