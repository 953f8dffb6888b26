import { availableParallelism } from 'node:os';

const MIB = 1024 * 1024;
/** The most a call's raw bytes can be: a 64 MiB message less room for its envelope. */
export const MAX_INPUT_BYTES_CEILING = 63 * MIB;

/** Settings of the converter, each read from the environment by {@link compileConverterOptions}. */
export interface ConverterOptions {
  /**
   * Largest source file taken; a larger one fails with PAYLOAD_TOO_LARGE before any work
   * (`CRANK_CONVERT_MAX_BYTES`, at most 63 MiB). @default 52428800 (50 MiB)
   */
  maxInputBytes?: number;
  /**
   * Longest one conversion may take, waiting for a thread included; then it fails with
   * DEADLINE_EXCEEDED and its thread is stopped (`CRANK_CONVERT_TIMEOUT_MS`). @default 60000
   */
  timeoutMs?: number;
  /** Threads that convert (`CRANK_CONVERT_THREADS`). @default the number of CPUs */
  threads?: number;
  /** Calls taken at once (`CRANK_CONVERT_CONCURRENCY`); more wait in the controller. @default `threads` */
  concurrency?: number;
}

/** {@link ConverterOptions} with every default filled and checked. */
export type CompiledConverterOptions = Readonly<Required<ConverterOptions>>;

/**
 * Fills defaults, reading each unset option from `env`, and checks them.
 *
 * @throws TypeError naming the option (or its variable) and the rule it breaks
 */
export function compileConverterOptions(
  options: ConverterOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): CompiledConverterOptions {
  const maxInputBytes = pick(options.maxInputBytes, env, 'CRANK_CONVERT_MAX_BYTES', 50 * MIB);
  const timeoutMs = pick(options.timeoutMs, env, 'CRANK_CONVERT_TIMEOUT_MS', 60_000);
  const threads = pick(options.threads, env, 'CRANK_CONVERT_THREADS', availableParallelism());
  const concurrency = pick(options.concurrency, env, 'CRANK_CONVERT_CONCURRENCY', threads);
  check('maxInputBytes (CRANK_CONVERT_MAX_BYTES)', maxInputBytes, 1, MAX_INPUT_BYTES_CEILING);
  check('timeoutMs (CRANK_CONVERT_TIMEOUT_MS)', timeoutMs, 1, 24 * 3_600_000);
  check('threads (CRANK_CONVERT_THREADS)', threads, 1, 256);
  check('concurrency (CRANK_CONVERT_CONCURRENCY)', concurrency, 1, 1024);
  return Object.freeze({ maxInputBytes, timeoutMs, threads, concurrency });
}

function pick(value: number | undefined, env: NodeJS.ProcessEnv, variable: string, fallback: number): number {
  if (value !== undefined) return value;
  const raw = env[variable]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,15}$/.test(raw)) {
    throw new TypeError(`${variable}: must be a whole number (got "${raw.slice(0, 40)}")`);
  }
  return Number(raw);
}

function check(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${name}: must be a whole number from ${min} to ${max} (got ${String(value)})`);
  }
}
