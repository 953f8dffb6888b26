import { availableParallelism } from 'node:os';

/** Settings of the image classifier, each read from the environment by {@link compileClassifierOptions}. */
export interface ClassifierOptions {
  /**
   * How long the first image of a batch waits for more before the batch runs
   * (`CRANK_IMAGE_BATCH_WINDOW_MS`, 0 to 1000; 0 runs what has arrived at once). @default 5
   */
  batchWindowMs?: number;
  /** Most images one inference takes (`CRANK_IMAGE_MAX_BATCH`, 1 to 256). @default 64 */
  maxBatch?: number;
  /**
   * Threads onnxruntime uses within one inference (`CRANK_IMAGE_THREADS`). @default the number
   * of CPUs
   */
  threads?: number;
  /**
   * Calls taken at once (`CRANK_IMAGE_CONCURRENCY`): enough to keep a batch filling while one
   * runs; more wait in the controller. @default 8 per CPU
   */
  concurrency?: number;
  /**
   * `safe` when the summed score of the unsafe labels is below it, for calls that give none
   * (`CRANK_IMAGE_UNSAFE_THRESHOLD`, 0 to 1). @default 0.5
   */
  unsafeThreshold?: number;
}

/** {@link ClassifierOptions} with every default filled and checked. */
export type CompiledClassifierOptions = Readonly<Required<ClassifierOptions>>;

/**
 * Fills defaults, reading each unset option from `env`, and checks them.
 *
 * @throws TypeError naming the option (or its variable) and the rule it breaks
 */
export function compileClassifierOptions(
  options: ClassifierOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): CompiledClassifierOptions {
  const cpus = availableParallelism();
  const batchWindowMs = pick(options.batchWindowMs, env, 'CRANK_IMAGE_BATCH_WINDOW_MS', 5);
  const maxBatch = pick(options.maxBatch, env, 'CRANK_IMAGE_MAX_BATCH', 64);
  const threads = pick(options.threads, env, 'CRANK_IMAGE_THREADS', cpus);
  const concurrency = pick(options.concurrency, env, 'CRANK_IMAGE_CONCURRENCY', 8 * cpus);
  const unsafeThreshold = pick(options.unsafeThreshold, env, 'CRANK_IMAGE_UNSAFE_THRESHOLD', 0.5, true);
  checkRange('batchWindowMs (CRANK_IMAGE_BATCH_WINDOW_MS)', batchWindowMs, 0, 1000, true);
  checkRange('maxBatch (CRANK_IMAGE_MAX_BATCH)', maxBatch, 1, 256, true);
  checkRange('threads (CRANK_IMAGE_THREADS)', threads, 1, 256, true);
  checkRange('concurrency (CRANK_IMAGE_CONCURRENCY)', concurrency, 1, 4096, true);
  checkRange('unsafeThreshold (CRANK_IMAGE_UNSAFE_THRESHOLD)', unsafeThreshold, 0, 1, false);
  return Object.freeze({ batchWindowMs, maxBatch, threads, concurrency, unsafeThreshold });
}

function pick(
  value: number | undefined,
  env: NodeJS.ProcessEnv,
  variable: string,
  fallback: number,
  fraction = false,
): number {
  if (value !== undefined) return value;
  const raw = env[variable]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!(fraction ? /^\d{1,15}(\.\d{1,15})?$/ : /^\d{1,15}$/).test(raw)) {
    throw new TypeError(
      `${variable}: must be a ${fraction ? 'number' : 'whole number'} (got "${raw.slice(0, 40)}")`,
    );
  }
  return Number(raw);
}

function checkRange(name: string, value: number, min: number, max: number, whole: boolean): void {
  if ((whole && !Number.isInteger(value)) || !(value >= min && value <= max)) {
    throw new TypeError(
      `${name}: must be a ${whole ? 'whole number' : 'number'} from ${min} to ${max} (got ${String(value)})`,
    );
  }
}
