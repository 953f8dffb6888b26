import {
  CLASSIFY_IMAGE,
  defineCapability,
  type ClassifyImageInput,
  type ClassifyImageOutput,
} from '@crank/capabilities';
import { compileClassifierOptions } from './classifier-options.js';

/** This worker's settings, from the environment (`CRANK_IMAGE_*`). */
export const CLASSIFIER_OPTIONS = compileClassifierOptions();

/**
 * `classify.image` as this worker declares it: the catalog contract, with as many slots as the
 * classifier takes calls at once (`CRANK_IMAGE_CONCURRENCY`, by default 8 per CPU, so that calls
 * keep arriving into the next batch while one runs).
 */
export const CLASSIFY = defineCapability<ClassifyImageInput | Buffer, ClassifyImageOutput>({
  ...CLASSIFY_IMAGE.definition,
  resources: { ...CLASSIFY_IMAGE.definition.resources, maxConcurrency: CLASSIFIER_OPTIONS.concurrency },
});
