/** Where the channel axis goes: `nchw` (ONNX convolutions) or `nhwc` (TensorFlow, Keras). */
export type TensorLayout = 'nchw' | 'nhwc';

/** How images become a model's input. */
export interface PreprocessOptions {
  /** Side, in pixels, of the square every image is resized to (aspect not kept). @defaultValue 224 */
  size?: number;
  /** Layout of the tensor. @defaultValue 'nchw' */
  layout?: TensorLayout;
  /** Per-channel (R, G, B) mean subtracted after scaling to 0..1. @defaultValue [0, 0, 0] */
  mean?: readonly [number, number, number];
  /** Per-channel (R, G, B) divisor applied after the mean. @defaultValue [1, 1, 1] */
  std?: readonly [number, number, number];
  /**
   * Most pixels an image may decode to (a small file that decodes to gigabytes is refused with
   * PAYLOAD_TOO_LARGE). @defaultValue 100_000_000
   */
  maxPixels?: number;
  /** What transparent pixels are put on, as CSS colour text. @defaultValue '#ffffff' */
  background?: string;
}

/** {@link PreprocessOptions} with every default filled in and checked. */
export interface CompiledPreprocessOptions {
  readonly size: number;
  readonly layout: TensorLayout;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  readonly maxPixels: number;
  readonly background: string;
}

/**
 * Fills defaults and checks {@link PreprocessOptions}.
 *
 * @throws RangeError naming the option and its rule
 */
export function compilePreprocessOptions(options: PreprocessOptions = {}): CompiledPreprocessOptions {
  const size = options.size ?? 224;
  if (!Number.isInteger(size) || size < 1 || size > 4096)
    throw new RangeError(`size: must be an integer from 1 to 4096 (got ${size})`);
  const layout = options.layout ?? 'nchw';
  if (layout !== 'nchw' && layout !== 'nhwc')
    throw new RangeError(`layout: must be "nchw" or "nhwc" (got ${JSON.stringify(layout)})`);
  const mean = options.mean ?? [0, 0, 0];
  const std = options.std ?? [1, 1, 1];
  if (mean.length !== 3 || !mean.every(Number.isFinite))
    throw new RangeError('mean: must be three finite numbers (R, G, B)');
  if (std.length !== 3 || !std.every((value) => Number.isFinite(value) && value > 0))
    throw new RangeError('std: must be three positive numbers (R, G, B)');
  const maxPixels = options.maxPixels ?? 100_000_000;
  if (!Number.isInteger(maxPixels) || maxPixels < 1)
    throw new RangeError(`maxPixels: must be a positive integer (got ${maxPixels})`);
  return Object.freeze({
    size,
    layout,
    mean: [...mean] as [number, number, number],
    std: [...std] as [number, number, number],
    maxPixels,
    background: options.background ?? '#ffffff',
  });
}
