import { existsSync, readFileSync } from 'node:fs';
import { CrankLibrary, type CrankContext } from './crank-library.js';
import { planModel, type KernelPlan } from './graph-plan.js';

/** Where the built files are, and how to open the device. */
export interface KernelLoaderOptions {
  /** libcrank_cuda.so (the `native-cuda` target; absent when nvcc was). */
  readonly cudaLibrary: string;
  /** libcrank_ref.so (the `native-ref` target), the warm-up's reference. */
  readonly referenceLibrary: string;
  readonly modelFile: string;
  readonly device: number;
  readonly streams: number;
  readonly memoryMb: number;
  readonly maxBatch: number;
}

/** The outcome of {@link loadKernels}: a context ready to serve, or why there is none. */
export type KernelLoad =
  | { readonly ok: true; readonly context: CrankContext; readonly maxDiff: number }
  | { readonly ok: false; readonly reason: string };

/** Largest probability difference the warm-up accepts between the device and the reference. */
export const WARM_UP_TOLERANCE = 1e-3;

/**
 * Loads the CUDA library, finds the device, uploads the model and runs a warm-up batch that must
 * match the CPU reference (same top-1, probabilities within {@link WARM_UP_TOLERANCE}). Never
 * throws: every failure becomes the reason the capability stays not ready.
 */
export async function loadKernels(options: KernelLoaderOptions): Promise<KernelLoad> {
  if (!existsSync(options.cudaLibrary))
    return { ok: false, reason: `no CUDA kernels: ${options.cudaLibrary} was not built (nvcc was missing)` };
  let context: CrankContext | undefined;
  try {
    const library = CrankLibrary.load(options.cudaLibrary);
    const devices = library.deviceCount;
    if (devices <= options.device)
      return {
        ok: false,
        reason:
          devices === 0
            ? 'no CUDA device found (no GPU or no driver)'
            : `CUDA device ${options.device} not found (${devices} found)`,
      };
    if (!existsSync(options.referenceLibrary))
      return { ok: false, reason: `no reference for the warm-up: ${options.referenceLibrary} was not built` };
    const plan = planModel(readFileSync(options.modelFile));
    context = library.open(plan, {
      device: options.device,
      streams: options.streams,
      memoryBudgetBytes: options.memoryMb * 1024 * 1024,
      maxBatch: options.maxBatch,
    });
    const maxDiff = await warmUp(context, plan, options.referenceLibrary);
    return { ok: true, context, maxDiff };
  } catch (error) {
    await context?.close();
    return { ok: false, reason: (error as Error).message };
  }
}

/** Runs a batch of patterned images on `context` and on the reference; answers the largest difference. */
async function warmUp(context: CrankContext, plan: KernelPlan, referenceLibrary: string): Promise<number> {
  const images = Array.from({ length: Math.min(4, context.maxBatch) }, (_, n) => pattern(plan.side, n));
  const reference = CrankLibrary.load(referenceLibrary).open(plan, { streams: 1, maxBatch: images.length });
  try {
    const [device, expected] = await Promise.all([context.run(images), reference.run(images)]);
    let maxDiff = 0;
    device.rows.forEach((row, n) => {
      const want = expected.rows[n] as Float32Array;
      if (argmax(row) !== argmax(want))
        throw new Error(`warm-up: image ${n}'s top label differs from the CPU reference's`);
      row.forEach((p, k) => (maxDiff = Math.max(maxDiff, Math.abs(p - (want[k] ?? 0)))));
    });
    if (!(maxDiff < WARM_UP_TOLERANCE))
      throw new Error(
        `warm-up: probabilities differ from the CPU reference's by ${maxDiff.toExponential(2)}`,
      );
    return maxDiff;
  } finally {
    await reference.close();
  }
}

/** A deterministic image unlike its neighbours in the batch: gradients at different angles. */
function pattern(side: number, n: number): Uint8Array {
  const pixels = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++)
      for (let c = 0; c < 3; c++)
        pixels[(y * side + x) * 3 + c] = (x * (n + 1) + y * (c + 2) * 3 + n * 40) & 255;
  return pixels;
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}
