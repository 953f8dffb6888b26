import koffi, { type LibraryHandle } from 'koffi';
import { CapabilityError } from '@crank/worker-runtime';
import type { KernelPlan } from './graph-plan.js';

/** Statuses of native/crank_classifier.h. */
const STATUS = Object.freeze({ ok: 0, invalidArgument: 1, unavailable: 2, resourceExhausted: 3 });

/** The functions of one loaded library (libcrank_cuda.so or libcrank_ref.so), bound by koffi. */
interface Bound {
  backend: () => string;
  deviceCount: () => number;
  create: (device: number, streams: number, budget: number) => unknown;
  destroy: (ctx: unknown) => void;
  load: (...args: unknown[]) => number;
  /** Called with `.async` (koffi runs it in a worker thread), so it keeps koffi's own shape. */
  run: ReturnType<LibraryHandle['func']>;
  topK: (ctx: unknown, stream: number, k: number, indices: Int32Array, scores: Float32Array) => number;
  kernelTimes: (ctx: unknown, stream: number, ms: Float32Array) => number;
  lastError: (ctx: unknown) => string;
}

/** Per path: koffi loads a library once per process. */
const loaded = new Map<string, Bound>();
/**
 * `crank_input_spec`, anonymous: koffi's named types are global to the process, and this module
 * may be evaluated more than once in it (each jest test file has its own module registry).
 */
let inputSpec: ReturnType<typeof koffi.struct> | undefined;

function bind(path: string): Bound {
  const known = loaded.get(path);
  if (known) return known;
  inputSpec ??= koffi.struct({
    side: 'int32_t',
    slot: 'int32_t',
    mean: koffi.array('float', 3),
    std: koffi.array('float', 3),
  });
  const lib = koffi.load(path);
  const bound: Bound = {
    backend: lib.func('const char *crank_backend(void)'),
    deviceCount: lib.func('int32_t crank_device_count(void)'),
    // Contexts are opaque `void *` for the same reason the struct is anonymous.
    create: lib.func('void *crank_create(int32_t, int32_t, uint64_t)'),
    destroy: lib.func('void crank_destroy(void *)'),
    load: lib.func('crank_load', 'int32_t', [
      'void *',
      'const float *',
      'int64_t',
      'const int32_t *',
      'int32_t',
      'const float *',
      'const int64_t *',
      'int32_t',
      koffi.pointer(inputSpec),
      'int32_t',
      'int32_t',
    ]),
    run: lib.func('int32_t crank_run(void *, int32_t, const uint8_t *, int32_t, _Out_ float *)'),
    topK: lib.func('int32_t crank_top_k(void *, int32_t, int32_t, _Out_ int32_t *, _Out_ float *)'),
    kernelTimes: lib.func('int32_t crank_kernel_times(void *, int32_t, _Out_ float *)'),
    lastError: lib.func('const char *crank_last_error(const void *)'),
  };
  loaded.set(path, bound);
  return bound;
}

/** Options of {@link CrankLibrary.open}. */
export interface CrankContextOptions {
  /** Device index. @default 0 */
  device?: number;
  /** Streams, each with its own buffers, whose batches overlap (1 to 8). @default 2 */
  streams?: number;
  /** Bytes of device memory weights and buffers may take; 0 for no budget. @default 0 */
  memoryBudgetBytes?: number;
  /** Most images one run takes. @default 64 */
  maxBatch?: number;
  /** Per-channel mean and std of the input's normalisation (after / 255). */
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
}

/** A kernel library: the CUDA one, or the CPU reference with the same C API. */
export class CrankLibrary {
  protected constructor(
    private readonly fns: Bound,
    /** The file loaded. */
    readonly path: string,
  ) {}

  /**
   * Loads the library at `path` (koffi dlopens it).
   *
   * @throws CapabilityError UNAVAILABLE naming the file when it does not load
   */
  static load(path: string): CrankLibrary {
    try {
      return new CrankLibrary(bind(path), path);
    } catch (error) {
      throw new CapabilityError(
        'UNAVAILABLE',
        `kernels: ${path} does not load (${(error as Error).message})`,
        undefined,
        {
          cause: error,
        },
      );
    }
  }

  /** `cuda` or `cpu-reference`. */
  get backend(): string {
    return this.fns.backend();
  }

  /** Devices the library can use (0: no driver or no GPU). */
  get deviceCount(): number {
    return this.fns.deviceCount();
  }

  /**
   * Creates a context and uploads the plan and its weights once.
   *
   * @throws CapabilityError UNAVAILABLE (no device, a CUDA failure) or RESOURCE_EXHAUSTED (over the
   *   budget or the device's memory), with the library's own text
   */
  open(plan: KernelPlan, options: CrankContextOptions = {}): CrankContext {
    const streams = options.streams ?? 2;
    const maxBatch = options.maxBatch ?? 64;
    const ctx = this.fns.create(options.device ?? 0, streams, options.memoryBudgetBytes ?? 0);
    if (!ctx) throw statusError(STATUS.unavailable, `kernels: ${this.fns.lastError(null)}`);
    const status = this.fns.load(
      ctx,
      plan.weights,
      plan.weights.length,
      plan.ops,
      plan.kernels.length,
      plan.params,
      plan.slotSizes,
      plan.slotSizes.length,
      {
        side: plan.side,
        slot: plan.inputSlot,
        mean: options.mean ?? [0, 0, 0],
        std: options.std ?? [1, 1, 1],
      },
      plan.outputSlot,
      maxBatch,
    );
    if (status !== STATUS.ok) {
      const message = this.fns.lastError(ctx);
      this.fns.destroy(ctx);
      throw statusError(status, `kernels: ${message}`);
    }
    return new CrankContext(this.fns, ctx, plan, streams, maxBatch);
  }
}

/**
 * One context: a plan uploaded to a device, with `streams` sets of buffers. A run takes a free
 * stream; runs on different streams overlap (in koffi's worker threads, so the event loop stays
 * free). Not usable after {@link close}.
 */
export class CrankContext {
  /** Streams not running a batch. */
  private readonly idle: number[];
  /** Runs waiting for a stream, oldest first. */
  private readonly waiting: ((stream: number) => void)[] = [];
  private ctx: unknown;
  /** Runs taken or waiting for a stream; close() waits for none to be left. */
  private running = 0;
  private drained: (() => void) | undefined;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly fns: Bound,
    ctx: unknown,
    /** The plan this context runs. */
    readonly plan: KernelPlan,
    streams: number,
    /** Most images one run takes. */
    readonly maxBatch: number,
  ) {
    this.ctx = ctx;
    this.idle = Array.from({ length: streams }, (_, i) => i);
  }

  /**
   * Classifies `images` (each `side * side * 3` RGB8 bytes, HWC): one row of probabilities each.
   *
   * @throws CapabilityError RESOURCE_EXHAUSTED for more than `maxBatch` images, UNAVAILABLE when the
   *   device or a kernel fails or the context is closed
   */
  async run(images: readonly Uint8Array[]): Promise<{ rows: Float32Array[]; kernelMs: Float32Array }> {
    const { side, outputWidth } = this.plan;
    const bytes = side * side * 3;
    if (images.length === 0 || images.length > this.maxBatch)
      throw statusError(
        STATUS.resourceExhausted,
        `images: must be 1 to ${this.maxBatch} (got ${images.length})`,
      );
    const packed = new Uint8Array(images.length * bytes);
    images.forEach((image, n) => {
      if (image.length !== bytes)
        throw new RangeError(`images[${n}]: must be ${bytes} bytes (got ${image.length})`);
      packed.set(image, n * bytes);
    });
    const stream = await this.takeStream();
    try {
      const output = new Float32Array(images.length * outputWidth);
      const status = await new Promise<number>((resolve, reject) => {
        this.fns.run.async(
          this.ctx,
          stream,
          packed,
          images.length,
          output,
          (error: unknown, value: number) => (error ? reject(error as Error) : resolve(value)),
        );
      });
      if (status !== STATUS.ok) throw statusError(status, `kernels: ${this.fns.lastError(this.ctx)}`);
      const kernelMs = new Float32Array(this.plan.kernels.length);
      this.fns.kernelTimes(this.ctx, stream, kernelMs);
      const rows = images.map((_, n) => output.slice(n * outputWidth, (n + 1) * outputWidth));
      return { rows, kernelMs };
    } finally {
      this.giveStream(stream);
    }
  }

  /** Frees the context once every run has ended. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      if (this.running > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      this.fns.destroy(this.ctx);
      this.ctx = null;
    })();
    return this.closed;
  }

  private takeStream(): Promise<number> {
    if (this.closed) return Promise.reject(statusError(STATUS.unavailable, 'kernels: the context is closed'));
    this.running++;
    const stream = this.idle.pop();
    if (stream !== undefined) return Promise.resolve(stream);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private giveStream(stream: number): void {
    this.running--;
    const next = this.waiting.shift();
    if (next) next(stream);
    else this.idle.push(stream);
    if (this.running === 0) this.drained?.();
  }
}

/** The typed error of a library status. */
function statusError(status: number, message: string): Error {
  if (status === STATUS.resourceExhausted) return new CapabilityError('RESOURCE_EXHAUSTED', message);
  if (status === STATUS.invalidArgument) return new TypeError(message);
  return new CapabilityError('UNAVAILABLE', message);
}
