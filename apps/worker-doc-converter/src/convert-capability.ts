import {
  CONVERT_DOCUMENT,
  defineCapability,
  type ConvertDocumentInput,
  type ConvertDocumentOutput,
} from '@crank/capabilities';
import { compileConverterOptions } from './converter-options.js';

/** This worker's settings, from the environment (`CRANK_CONVERT_*`). */
export const CONVERTER_OPTIONS = compileConverterOptions();

/**
 * `convert.document` as this worker declares it: the catalog contract, with as many slots as the
 * converter takes calls at once (`CRANK_CONVERT_CONCURRENCY`).
 */
export const CONVERT = defineCapability<ConvertDocumentInput | Buffer, ConvertDocumentOutput>({
  ...CONVERT_DOCUMENT.definition,
  resources: { ...CONVERT_DOCUMENT.definition.resources, maxConcurrency: CONVERTER_OPTIONS.concurrency },
});
