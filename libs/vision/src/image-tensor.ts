import type { ModelImage } from './decode-image.js';
import type { CompiledPreprocessOptions } from './preprocess-options.js';

/** A float32 tensor: its values and its dimensions (`[n, 3, size, size]` or `[n, size, size, 3]`). */
export interface ImageTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/**
 * A batch of decoded images as one float32 tensor in the options' layout, each value
 * `(pixel / 255 - mean[c]) / std[c]`. Every image must be `size x size` (as {@link decodeImage}
 * makes them).
 *
 * @throws RangeError when an image is not of the options' size
 */
export function toTensor(images: readonly ModelImage[], options: CompiledPreprocessOptions): ImageTensor {
  const { size, layout } = options;
  const plane = size * size;
  const data = new Float32Array(images.length * plane * 3);
  // Per channel: value = pixel * scale + offset, one multiply-add per value.
  const scale = options.std.map((s) => 1 / (255 * s));
  const offset = options.mean.map((m, c) => -m / (options.std[c] ?? 1));
  images.forEach((image, n) => {
    const pixels = image.pixels;
    if (pixels.length !== plane * 3)
      throw new RangeError(`images[${n}]: has ${pixels.length / 3} pixels, expected ${size} x ${size}`);
    const base = n * plane * 3;
    for (let c = 0; c < 3; c++) {
      const s = scale[c] ?? 1;
      const o = offset[c] ?? 0;
      if (layout === 'nchw') {
        const start = base + c * plane;
        for (let i = 0; i < plane; i++) data[start + i] = (pixels[i * 3 + c] ?? 0) * s + o;
      } else {
        for (let i = 0; i < plane; i++) data[base + i * 3 + c] = (pixels[i * 3 + c] ?? 0) * s + o;
      }
    }
  });
  const dims = layout === 'nchw' ? [images.length, 3, size, size] : [images.length, size, size, 3];
  return { data, dims };
}
