import { fileURLToPath } from 'node:url';
import { compilePreprocessOptions } from '@crank/vision';

/**
 * The model this worker runs: the CPU worker's file (nsfwjs 4.4's MobileNetV2 converted to ONNX by
 * tools/model-convert), copied into dist/model/ by `build`, so both workers give the same answers.
 */
export const NSFW_MODEL = Object.freeze({
  name: 'nsfwjs-mobilenet-v2@4.4.0',
  path: fileURLToPath(new URL('./model/nsfwjs-mobilenet-v2.onnx', import.meta.url)),
  /** Output columns, in nsfwjs's order. */
  labels: Object.freeze(['drawing', 'hentai', 'neutral', 'porn', 'sexy']),
  /** The labels whose summed score is `unsafeScore`. */
  unsafeLabels: Object.freeze(['hentai', 'porn', 'sexy']),
  /** 224 x 224 RGB, values 0..1, NCHW: the kernels normalise and lay out on the device. */
  preprocess: compilePreprocessOptions({ size: 224, layout: 'nchw' }),
});
