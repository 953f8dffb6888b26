import type { Capability, StreamingMode } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

/** What a handler gets besides its input. */
export interface HandlerContext {
  /** Aborts when the caller cancels, the deadline passes, or the drain deadline ends. */
  readonly signal: AbortSignal;
  /** The caller's deadline, propagated through the controller; undefined when none was set. */
  readonly deadline: Date | undefined;
  /** Child logger bound to the request (capability, version, request id). */
  readonly logger: Logger;
  /** Capability id of this call. */
  readonly capability: string;
  /** The exact version of the capability the controller chose for this call. */
  readonly version: string;
  readonly requestId: string;
  /** Identity (certificate CN) of the original caller. */
  readonly caller: string;
  /** This worker's id. */
  readonly workerId: string;
  /** Media type of the input (`application/json` for JSON, else what the caller sent). */
  readonly contentType: string;
  /** The job this call is an attempt of; undefined for a plain call. */
  readonly jobId: string | undefined;
  /**
   * Reports how far the handler is (0 to 1, with an optional message) to the job's record and
   * its watchers; rate-limited, never blocks. The same handler serves plain calls, where it does
   * nothing.
   */
  progress(fraction: number, message?: string): void;
  /** Calls other capabilities through the controller with this worker's certificate. */
  readonly client: CrankClient;
  /**
   * The worker's Prometheus registry (served at `/metrics`), for a handler's own metrics. Create
   * each metric once (e.g. `registry.getSingleMetric(name) ?? new Counter({ ..., registers: [registry] })`).
   */
  readonly metrics: Registry;
}

/** A non-JSON output: bytes with their media type. */
export interface BinaryOutput {
  readonly contentType: string;
  readonly data: Uint8Array;
}

/** Wraps bytes as a handler output of the given media type. */
export function binary(data: Uint8Array, contentType: string): BinaryOutput {
  return { contentType, data };
}

/** One output of a handler: a JSON value of the output type, or bytes. */
export type HandlerOutput<O> = O | BinaryOutput | Uint8Array;

/**
 * A capability's business logic, shaped by its streaming mode:
 * - `none`:   `(input, ctx) => output`
 * - `input`:  `(records: AsyncIterable, ctx) => output`
 * - `output`: `(input, ctx) => AsyncIterable<output>`
 * - `bidi`:   `(records: AsyncIterable, ctx) => AsyncIterable<output>`
 * Streamed records are parsed JSON (checked against the input schema) or, for byte chunks, Buffers
 * (a capability taking bytes declares `Buffer` in its input type). Outputs are JSON values,
 * {@link BinaryOutput}s or Buffers.
 */
export type HandlerFor<I, O, M extends StreamingMode> = M extends 'none'
  ? (input: I, ctx: HandlerContext) => HandlerOutput<O> | Promise<HandlerOutput<O>>
  : M extends 'input'
    ? (records: AsyncIterable<I>, ctx: HandlerContext) => HandlerOutput<O> | Promise<HandlerOutput<O>>
    : M extends 'output'
      ? (input: I, ctx: HandlerContext) => AsyncIterable<HandlerOutput<O>>
      : (records: AsyncIterable<I>, ctx: HandlerContext) => AsyncIterable<HandlerOutput<O>>;

/** Any handler, as the runtime calls it. */
export type Handler = (input: never, ctx: HandlerContext) => unknown;

/** Options of one served capability. */
export interface ServeOptions {
  /**
   * Whether the capability takes calls as soon as the worker serves. Pass false for one whose
   * model still loads, and call `worker.setReady(id, true)` when it has: until then calls get
   * MODEL_NOT_READY and the controller routes elsewhere. @default true
   */
  ready?: boolean;
  /** Why the capability is not ready yet, shown in `/v1/workers` and `/health`. @default 'starting' */
  reason?: string;
}

/** A capability and the handler that serves it. */
export interface ServedCapability {
  readonly capability: Capability;
  readonly handler: Handler;
  readonly options: Required<ServeOptions>;
}

/**
 * Pairs a capability with its handler. The handler's shape follows the capability's streaming
 * mode (see {@link HandlerFor}), so the compiler refuses a unary handler for a streaming capability.
 *
 * @example
 * serve(echo, async (input, ctx) => ({ message: input.message, workerId: ctx.workerId }))
 * serve(classify, classifyImage, { ready: false }) // then worker.setReady('classify.image', true)
 */
export function serve<I, O, M extends StreamingMode>(
  capability: Capability<I, O, M>,
  handler: HandlerFor<I, O, M>,
  options: ServeOptions = {},
): ServedCapability {
  const ready = options.ready ?? true;
  return {
    capability: capability as unknown as Capability,
    handler: handler as unknown as Handler,
    options: { ready, reason: options.reason ?? (ready ? '' : 'starting') },
  };
}
