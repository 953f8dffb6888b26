import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, type ModelImage } from '@crank/vision';
import { NSFW_MODEL } from '../src/nsfw-model.js';

/** The CPU reference library, built by the `native-ref` target (g++), which `test` depends on. */
export const REFERENCE_LIBRARY = join(import.meta.dirname, '../build/libcrank_ref.so');
/** The model file the CPU worker's `model` target writes; this worker runs the same file. */
export const MODEL_FILE = join(
  import.meta.dirname,
  '../../worker-image-classifier-cpu/model/nsfwjs-mobilenet-v2.onnx',
);
/** The CPU worker's evaluation images. */
const FIXTURES = join(import.meta.dirname, '../../worker-image-classifier-cpu/test/fixtures');

/** Why the kernel tests cannot run here, or undefined when they can. */
export function missingPrerequisite(): string | undefined {
  if (!existsSync(REFERENCE_LIBRARY))
    return `${REFERENCE_LIBRARY} was not built (the native-ref target needs g++; it said why)`;
  if (!existsSync(MODEL_FILE)) return `${MODEL_FILE} is missing: run worker-image-classifier-cpu:model`;
  return undefined;
}

/** Every fixture photograph and drawing, decoded and resized as the worker does, and seeded noise. */
export async function evaluationImages(): Promise<{ name: string; image: ModelImage }[]> {
  const names = readdirSync(FIXTURES).filter((name) => /\.(png|jpg)$/.test(name));
  const images = await Promise.all(
    names.map(async (name) => ({
      name,
      image: await decodeImage(readFileSync(join(FIXTURES, name)), NSFW_MODEL.preprocess),
    })),
  );
  // Seeded noise: nothing like a training image, where two implementations are least likely to agree by luck.
  const { size } = NSFW_MODEL.preprocess;
  const pixels = new Uint8Array(size * size * 3);
  let seed = 42;
  for (let i = 0; i < pixels.length; i++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    pixels[i] = seed >> 23;
  }
  images.push({ name: 'noise', image: { format: 'png', width: size, height: size, pixels } });
  return images;
}
