import type { Capability } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import type { Logger } from 'pino';

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
  /** Calls other capabilities through the controller with this worker's certificate. */
  readonly client: CrankClient;
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

/**
 * A capability's business logic. The shape follows the capability's `streaming` mode:
 * - `none`:   `(input, ctx) => output`
 * - `input`:  `(records: AsyncIterable, ctx) => output`
 * - `output`: `(input, ctx) => AsyncIterable<output>`
 * - `bidi`:   `(records: AsyncIterable, ctx) => AsyncIterable<output>`
 * Streamed records are parsed JSON (checked against the input schema) or, for byte streams, Buffers.
 * Outputs are JSON values, {@link BinaryOutput}s or Buffers.
 */
export type Handler<I = never, O = unknown> = (
  input: I,
  ctx: HandlerContext,
) => O | Promise<O> | AsyncIterable<O>;

/** A capability and the handler that serves it. */
export interface ServedCapability {
  readonly capability: Capability;
  readonly handler: Handler<never, unknown>;
}

/**
 * Pairs a capability with its handler, typed from the capability's input and output types.
 *
 * @example
 * serve(echo, async (input, ctx) => ({ message: input.message, workerId: ctx.workerId }))
 */
export function serve<I, O>(
  capability: Capability<I, O>,
  handler: (input: I, ctx: HandlerContext) => O | Promise<O> | AsyncIterable<O | BinaryOutput>,
): ServedCapability;
export function serve<I, O>(
  capability: Capability<I, O>,
  handler: (input: AsyncIterable<I>, ctx: HandlerContext) => O | Promise<O> | AsyncIterable<O | BinaryOutput>,
): ServedCapability;
export function serve(capability: Capability, handler: Handler<never, unknown>): ServedCapability {
  return { capability: capability as Capability, handler };
}
