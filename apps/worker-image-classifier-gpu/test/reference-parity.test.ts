import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import ort from 'onnxruntime-node';
import { toTensor, type ModelImage } from '@crank/vision';
import { CrankLibrary, type CrankContext } from '../src/crank-library.js';
import { planModel, type KernelPlan } from '../src/graph-plan.js';
import { NSFW_MODEL } from '../src/nsfw-model.js';
import {
  evaluationImages,
  missingPrerequisite,
  MODEL_FILE,
  REFERENCE_LIBRARY,
} from './reference-fixtures.js';

const missing = missingPrerequisite();
if (missing) console.warn(`kernel parity tests skipped: ${missing}`);
const describeIfBuilt = missing ? describe.skip : describe;

/**
 * The planner, the koffi binding and the kernels' numerics, on the CPU reference (the same C API
 * as the CUDA library), against onnxruntime on the same model file and the same decoded pixels:
 * identical top-1 on every evaluation image, no probability more than 1e-3 apart.
 */
describeIfBuilt('the CPU reference of the kernel library', () => {
  let plan: KernelPlan;
  let context: CrankContext;
  let session: ort.InferenceSession;
  let images: { name: string; image: ModelImage }[];

  beforeAll(async () => {
    const bytes = readFileSync(MODEL_FILE);
    plan = planModel(bytes);
    context = CrankLibrary.load(REFERENCE_LIBRARY).open(plan, { streams: 2, maxBatch: 16 });
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
    images = await evaluationImages();
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await session?.release();
  });

  it('plans MobileNetV2 with conv, clip, add, pooling, gemm and softmax fused into 50-odd kernels', () => {
    const opcodes = new Set(Array.from({ length: plan.kernels.length }, (_, i) => plan.ops[i * 20]));
    expect([...opcodes].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(plan.kernels.filter((name) => name.endsWith('+clip')).length).toBeGreaterThan(30);
    expect(plan.outputWidth).toBe(NSFW_MODEL.labels.length);
    // Slots are reused once dead: a handful, not one per tensor.
    expect(plan.slotSizes.length).toBeLessThan(6);
  });

  it('agrees with onnxruntime on every evaluation image: same top-1, probabilities within 1e-3', async () => {
    const tensor = toTensor(
      images.map(({ image }) => image),
      NSFW_MODEL.preprocess,
    );
    const [inputName] = session.inputNames;
    const [outputName] = session.outputNames;
    const result = await session.run({
      [inputName as string]: new ort.Tensor('float32', tensor.data, [...tensor.dims]),
    });
    const expected = result[outputName as string]?.data as Float32Array;
    const { rows } = await context.run(images.map(({ image }) => image.pixels));

    const width = plan.outputWidth;
    let maxDiff = 0;
    const compared = images.map(({ name }, n) => {
      const want = Array.from(expected.subarray(n * width, (n + 1) * width));
      const got = Array.from(rows[n] as Float32Array);
      maxDiff = Math.max(maxDiff, ...want.map((p, k) => Math.abs(p - (got[k] ?? 0))));
      return { name, onnxruntime: argmax(want), reference: argmax(got) };
    });
    expect(compared.map(({ name, reference }) => [name, reference])).toEqual(
      compared.map(({ name, onnxruntime }) => [name, onnxruntime]),
    );
    expect(maxDiff).toBeLessThan(1e-3);
    console.info(
      `kernel parity (CPU reference): ${compared.length} images, same top-1 on all, max |p - p'| = ${maxDiff.toExponential(2)}`,
    );
  }, 120_000);

  it('answers the same rows for an image alone as within a batch, on either stream at once', async () => {
    const [a, b] = images as unknown as [{ image: ModelImage }, { image: ModelImage }];
    const [batch, alone] = await Promise.all([
      context.run([a.image.pixels, b.image.pixels]),
      context.run([b.image.pixels]),
    ]);
    expect(Array.from(alone.rows[0] as Float32Array)).toEqual(Array.from(batch.rows[1] as Float32Array));
    expect(alone.kernelMs.length).toBe(plan.kernels.length);
  }, 60_000);

  it('refuses a batch over the most it was sized for with RESOURCE_EXHAUSTED', async () => {
    const pixels = (images[0] as { image: ModelImage }).image.pixels;
    await expect(context.run(Array.from({ length: 17 }, () => pixels))).rejects.toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
      message: 'images: must be 1 to 16 (got 17)',
    });
  });

  it('refuses weights and buffers over the memory budget with RESOURCE_EXHAUSTED, naming the sizes', () => {
    const library = CrankLibrary.load(REFERENCE_LIBRARY);
    expect(() => library.open(plan, { memoryBudgetBytes: 1_000_000 })).toThrow(
      expect.objectContaining({
        code: 'RESOURCE_EXHAUSTED',
        message: expect.stringMatching(
          /^kernels: load: weights and buffers need \d+ bytes, over the budget of 1000000$/,
        ),
      }),
    );
  });
});

function argmax(values: readonly number[]): number {
  return values.reduce((best, value, index) => (value > (values[best] ?? -Infinity) ? index : best), 0);
}
