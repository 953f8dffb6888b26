import { fileURLToPath } from 'node:url';
import { compilePreprocessOptions } from '@crank/vision';

/**
 * The model this worker runs: nsfwjs 4.4's MobileNetV2 (MIT), converted to ONNX at build time by
 * tools/model-convert into dist/model/ (the app's `model` target, copied by `build`).
 */
export const NSFW_MODEL = Object.freeze({
  name: 'nsfwjs-mobilenet-v2@4.4.0',
  path: fileURLToPath(new URL('./model/nsfwjs-mobilenet-v2.onnx', import.meta.url)),
  /** Output columns, in nsfwjs's order. */
  labels: Object.freeze(['drawing', 'hentai', 'neutral', 'porn', 'sexy']),
  /** The labels whose summed score is `unsafeScore`. */
  unsafeLabels: Object.freeze(['hentai', 'porn', 'sexy']),
  /** 224 x 224 RGB, values 0..1 (nsfwjs divides by 255 and nothing else), NCHW for ONNX. */
  preprocess: compilePreprocessOptions({ size: 224, layout: 'nchw' }),
});
