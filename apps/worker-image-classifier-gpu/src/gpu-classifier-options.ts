/** Settings of the GPU image classifier, each read from the environment by {@link compileGpuClassifierOptions}. */
export interface GpuClassifierOptions {
  /**
   * How long the first image of a batch waits for more before the batch runs
   * (`CRANK_GPU_BATCH_WINDOW_MS`, 0 to 1000). @default 2
   */
  batchWindowMs?: number;
  /** Most images one batch takes (`CRANK_GPU_MAX_BATCH`, 1 to 64). @default 64 */
  maxBatch?: number;
  /** CUDA device index (`CRANK_GPU_DEVICE`). @default 0 */
  device?: number;
  /** CUDA streams, each running its own batch, copies overlapping kernels (`CRANK_GPU_STREAMS`, 1 to 8). @default 2 */
  streams?: number;
  /**
   * Device memory the weights and every stream's buffers may take, in MiB (`CRANK_GPU_MEMORY_MB`,
   * 64 to 1048576); a plan over it leaves the capability not ready with RESOURCE_EXHAUSTED's text.
   * @default 2048
   */
  memoryMb?: number;
  /** Calls taken at once (`CRANK_GPU_CONCURRENCY`). @default 256 */
  concurrency?: number;
  /** `safe` below this summed unsafe score, for calls that give none (`CRANK_IMAGE_UNSAFE_THRESHOLD`). @default 0.5 */
  unsafeThreshold?: number;
}

/** {@link GpuClassifierOptions} with every default filled and checked. */
export type CompiledGpuClassifierOptions = Readonly<Required<GpuClassifierOptions>>;

const RULES: Record<
  keyof GpuClassifierOptions,
  [variable: string, fallback: number, min: number, max: number]
> = {
  batchWindowMs: ['CRANK_GPU_BATCH_WINDOW_MS', 2, 0, 1000],
  maxBatch: ['CRANK_GPU_MAX_BATCH', 64, 1, 64],
  device: ['CRANK_GPU_DEVICE', 0, 0, 63],
  streams: ['CRANK_GPU_STREAMS', 2, 1, 8],
  memoryMb: ['CRANK_GPU_MEMORY_MB', 2048, 64, 1_048_576],
  concurrency: ['CRANK_GPU_CONCURRENCY', 256, 1, 4096],
  unsafeThreshold: ['CRANK_IMAGE_UNSAFE_THRESHOLD', 0.5, 0, 1],
};

/**
 * Fills defaults, reading each unset option from `env`, and checks them. Every option is a whole
 * number but `unsafeThreshold`.
 *
 * @throws TypeError naming the option (and its variable) and the rule it breaks
 */
export function compileGpuClassifierOptions(
  options: GpuClassifierOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): CompiledGpuClassifierOptions {
  const compiled = {} as Record<keyof GpuClassifierOptions, number>;
  for (const [key, [variable, fallback, min, max]] of Object.entries(RULES) as [
    keyof GpuClassifierOptions,
    (typeof RULES)[keyof GpuClassifierOptions],
  ][]) {
    const whole = key !== 'unsafeThreshold';
    let value = options[key];
    const raw = env[variable]?.trim();
    if (value === undefined && raw !== undefined && raw !== '') {
      if (!(whole ? /^\d{1,15}$/ : /^\d{1,15}(\.\d{1,15})?$/).test(raw))
        throw new TypeError(
          `${variable}: must be a ${whole ? 'whole number' : 'number'} (got "${raw.slice(0, 40)}")`,
        );
      value = Number(raw);
    }
    value ??= fallback;
    if ((whole && !Number.isInteger(value)) || !(value >= min && value <= max))
      throw new TypeError(
        `${key} (${variable}): must be a ${whole ? 'whole number' : 'number'} from ${min} to ${max} (got ${String(value)})`,
      );
    compiled[key] = value;
  }
  return Object.freeze(compiled);
}
