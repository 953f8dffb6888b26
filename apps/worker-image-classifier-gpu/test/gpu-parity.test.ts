import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import ort from 'onnxruntime-node';
import { toTensor, type ModelImage } from '@crank/vision';
import { CrankLibrary, type CrankContext } from '../src/crank-library.js';
import { planModel, type KernelPlan } from '../src/graph-plan.js';
import { NSFW_MODEL } from '../src/nsfw-model.js';
import { evaluationImages, MODEL_FILE } from './reference-fixtures.js';

/** The CUDA library, built by the `native-cuda` target (absent where nvcc is). */
const CUDA_LIBRARY = join(import.meta.dirname, '../build/libcrank_cuda.so');

function missingDevice(): string | undefined {
  if (!existsSync(CUDA_LIBRARY)) return `${CUDA_LIBRARY} was not built (no nvcc)`;
  if (!existsSync(MODEL_FILE)) return `${MODEL_FILE} is missing: run worker-image-classifier-cpu:model`;
  if (CrankLibrary.load(CUDA_LIBRARY).deviceCount === 0) return 'no CUDA device found on this machine';
  return undefined;
}
const missing = missingDevice();
if (missing) console.warn(`GPU tests skipped: ${missing}`);
const describeOnGpu = missing ? describe.skip : describe;

/**
 * The CUDA kernels against onnxruntime on the CPU, on a GPU machine (tools/device/gpu-check.sh):
 * identical top-1 and probabilities within 1e-3 on the evaluation images, a full batch of 64, and
 * an allocation the device cannot make answered with RESOURCE_EXHAUSTED, the context still usable.
 */
describeOnGpu('the CUDA kernels', () => {
  let plan: KernelPlan;
  let context: CrankContext;
  let session: ort.InferenceSession;
  let images: { name: string; image: ModelImage }[];

  beforeAll(async () => {
    const bytes = readFileSync(MODEL_FILE);
    plan = planModel(bytes);
    context = CrankLibrary.load(CUDA_LIBRARY).open(plan, { streams: 2, maxBatch: 64 });
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
    images = await evaluationImages();
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await session?.release();
  });

  async function onnxruntime(batch: readonly ModelImage[]): Promise<Float32Array> {
    const tensor = toTensor(batch, NSFW_MODEL.preprocess);
    const result = await session.run({
      [session.inputNames[0] as string]: new ort.Tensor('float32', tensor.data, [...tensor.dims]),
    });
    return result[session.outputNames[0] as string]?.data as Float32Array;
  }

  function compare(
    expected: Float32Array,
    rows: readonly Float32Array[],
  ): { maxDiff: number; sameTop1: boolean } {
    const width = plan.outputWidth;
    let maxDiff = 0;
    let sameTop1 = true;
    rows.forEach((row, n) => {
      const want = expected.subarray(n * width, (n + 1) * width);
      if (argmax(want) !== argmax(row)) sameTop1 = false;
      row.forEach((p, k) => (maxDiff = Math.max(maxDiff, Math.abs(p - (want[k] ?? 0)))));
    });
    return { maxDiff, sameTop1 };
  }

  it('agrees with onnxruntime on every evaluation image: same top-1, probabilities within 1e-3', async () => {
    const batch = images.map(({ image }) => image);
    const { rows } = await context.run(batch.map((image) => image.pixels));
    const { maxDiff, sameTop1 } = compare(await onnxruntime(batch), rows);
    expect(sameTop1).toBe(true);
    expect(maxDiff).toBeLessThan(1e-3);
    console.info(
      `GPU parity: ${rows.length} images, same top-1 on all, max |p - p'| = ${maxDiff.toExponential(2)}`,
    );
  });

  it('runs a batch of 64 with the same answers as onnxruntime', async () => {
    const batch = Array.from(
      { length: 64 },
      (_, i) => (images[i % images.length] as { image: ModelImage }).image,
    );
    const { rows, kernelMs } = await context.run(batch.map((image) => image.pixels));
    expect(rows).toHaveLength(64);
    const { maxDiff, sameTop1 } = compare(await onnxruntime(batch), rows);
    expect(sameTop1).toBe(true);
    expect(maxDiff).toBeLessThan(1e-3);
    expect(kernelMs.every((ms) => ms >= 0)).toBe(true);
  });

  it('answers an allocation the device cannot make with RESOURCE_EXHAUSTED, and keeps serving', async () => {
    const library = CrankLibrary.load(CUDA_LIBRARY);
    // Buffers for a million images per stream: terabytes, more than any device holds.
    expect(() => library.open(plan, { streams: 1, maxBatch: 1_000_000 })).toThrow(
      expect.objectContaining({ code: 'RESOURCE_EXHAUSTED' }),
    );
    const { rows } = await context.run([(images[0] as { image: ModelImage }).image.pixels]);
    expect(rows).toHaveLength(1);
  });
});

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}
