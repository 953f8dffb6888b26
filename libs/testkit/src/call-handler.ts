import { ContractViolationError, CrankError, type Capability } from '@crank/capabilities';
import type { HandlerContext, ServedCapability } from '@crank/worker-runtime';
import { isAsyncIterable } from './handler-runs.js';
import { mockContext, type MockContextOptions, type MockHandlerContext } from './mock-context.js';

/** A handler as `serve()` takes it, whatever its input type. */
export type AnyHandler = (input: never, ctx: HandlerContext) => unknown;

/** Options of {@link callHandler}: the context to call with, or what to put in a new one. */
export interface CallHandlerOptions extends MockContextOptions {
  /**
   * The context to run the handler with: make one with `mockContext()` to abort the call while it
   * runs or to read what it logged. @default `mockContext(options)`
   */
  ctx?: MockHandlerContext;
}

/**
 * Calls a handler in-process with a mock {@link HandlerContext}, as the runtime would, minus the
 * network. Given a `ServedCapability` (what `serve()` returns), it also keeps the capability's
 * contract: the input (each record, for an input stream) must match the input schema, else
 * `InvalidInputError` (INVALID_INPUT) before the handler runs; every JSON output must match the
 * output schema, else `ContractViolationError`; a handler error with a code the capability does
 * not declare becomes a `ContractViolationError`. A bare handler gets no checks.
 *
 * The promise settles when the handler does, so a handler that ignores `ctx.signal` after
 * `ctx.abort()` keeps it pending. Once the signal has aborted it rejects with the abort reason
 * (CANCELLED by default), whatever the handler returned, as the runtime answers the caller.
 *
 * @returns the output; for a handler that returns a stream (`output` and `bidi` capabilities),
 *   every record of it, in order
 *
 * @example
 * ```ts
 * const out = await callHandler(serve(reverse, reverseText), { text: 'abc' }); // { text: 'cba' }
 * const ctx = mockContext();
 * const pending = callHandler(served, { text: 'slow' }, { ctx });
 * ctx.abort();
 * await assert.rejects(pending, { code: 'CANCELLED' });
 * ```
 */
export async function callHandler<O = unknown>(
  target: ServedCapability | AnyHandler,
  input: unknown,
  options: CallHandlerOptions = {},
): Promise<O> {
  const served = typeof target === 'function' ? undefined : target;
  const capability = served?.capability;
  const handler = (served ? served.handler : target) as (input: unknown, ctx: HandlerContext) => unknown;
  const ctx =
    options.ctx ??
    mockContext({
      ...(capability ? { capability: capability.id, version: capability.version } : {}),
      ...options,
    });
  const mode = capability?.streaming;
  const streamsIn = mode === 'input' || mode === 'bidi';
  const streamsOut = mode === 'output' || mode === 'bidi';

  let argument = input;
  // Set when a streamed record breaks the input schema: that is the caller's error, not the handler's.
  const refused: { error?: unknown } = {};
  if (capability) {
    if (streamsIn) argument = checkedRecords(capability, input, refused);
    else if (!(input instanceof Uint8Array)) capability.assertInput(input);
  }
  let output: unknown;
  try {
    const result = await handler(argument, ctx);
    if (capability && !streamsOut && isAsyncIterable(result)) {
      throw new CrankError('INTERNAL', `handler of "${capability.id}" returned a stream for a unary call`);
    }
    if (isAsyncIterable(result) || (capability && streamsOut)) {
      const records: unknown[] = [];
      for await (const record of asAsyncIterable(result, capability)) {
        if (capability) checkOutput(capability, record);
        records.push(record);
      }
      output = records;
    } else {
      if (capability) checkOutput(capability, result);
      output = result;
    }
  } catch (error) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (error === refused.error) throw error;
    throw capability ? contractError(capability, error) : error;
  }
  if (ctx.signal.aborted) throw ctx.signal.reason;
  return output as O;
}

/** The input of a streaming-input handler: each record checked as the handler pulls it. */
async function* checkedRecords(
  capability: Capability,
  input: unknown,
  refused: { error?: unknown },
): AsyncGenerator<unknown> {
  if (!isAsyncIterable(input) && !isIterable(input)) {
    throw new TypeError(
      `input: ${capability.id} takes a stream (${capability.streaming}); pass an array or an (async) iterable of records`,
    );
  }
  for await (const record of input as AsyncIterable<unknown>) {
    if (!(record instanceof Uint8Array)) {
      try {
        capability.assertInput(record);
      } catch (error) {
        refused.error = error;
        throw error;
      }
    }
    yield record;
  }
}

function asAsyncIterable(value: unknown, capability: Capability | undefined): AsyncIterable<unknown> {
  if (isAsyncIterable(value)) return value;
  if (isIterable(value)) return toAsync(value);
  throw new CrankError(
    'INTERNAL',
    `handler of "${capability?.id ?? 'handler'}" must return an async iterable for a streaming output`,
  );
}

async function* toAsync(values: Iterable<unknown>): AsyncGenerator<unknown> {
  yield* values;
}

function checkOutput(capability: Capability, value: unknown): void {
  if (value instanceof Uint8Array || isBinaryOutput(value)) return;
  capability.assertOutput(value);
}

/** What the runtime answers for a handler's error: undeclared codes break the contract. */
function contractError(capability: Capability, error: unknown): unknown {
  if (!(error instanceof CrankError) || error instanceof ContractViolationError) return error;
  if (capability.mayFailWith(error.code, 'handler')) return error;
  return new ContractViolationError(
    `handler of ${capability.key} failed with ${error.code}, which the capability does not declare (errorCodes)`,
    [],
    { details: { capability: capability.id, code: error.code }, cause: error },
  );
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.iterator in value;
}

function isBinaryOutput(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { data?: unknown }).data instanceof Uint8Array &&
    typeof (value as { contentType?: unknown }).contentType === 'string'
  );
}
