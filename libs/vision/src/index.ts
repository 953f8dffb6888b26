/**
 * Image preprocessing for Crank's classifiers, shared by the CPU and GPU image workers, with the
 * `classify.image` request reader and the dynamic batcher both serve through: decode
 * (sharp; JPEG, PNG, WebP, AVIF, a GIF's first frame), upright by EXIF orientation, transparency
 * on white, resize to the model's square, normalise, and lay out as NCHW or NHWC float32.
 *
 * @example
 * ```ts
 * import { compilePreprocessOptions, decodeImage, toTensor } from '@crank/vision';
 *
 * const options = compilePreprocessOptions({ size: 224, layout: 'nchw' });
 * const images = await Promise.all(files.map((bytes) => decodeImage(bytes, options)));
 * const { data, dims } = toTensor(images, options); // Float32Array, [n, 3, 224, 224]
 * ```
 */
export { decodeImage, type ModelImage } from './decode-image.js';
export { ImageError, type ImageErrorCode } from './image-error.js';
export { IMAGE_MEDIA_TYPES, sniffImageFormat, type ImageFormat } from './image-format.js';
export { toTensor, type ImageTensor } from './image-tensor.js';
export {
  compilePreprocessOptions,
  type CompiledPreprocessOptions,
  type PreprocessOptions,
  type TensorLayout,
} from './preprocess-options.js';
export { MAX_IMAGE_BYTES, readClassifyRequest, type ClassifyRequest } from './classify-request.js';
export { DynamicBatcher, type BatchRun, type DynamicBatcherOptions } from './dynamic-batcher.js';
export {
  batchImageError,
  classificationOf,
  classifyImages,
  type ClassLabels,
  type ClassifyImagesOptions,
} from './classification.js';
