import { CapabilityDescriptor, StreamingMode } from './generated/crank/v1/common.js';

/**
 * The wire adapter: how Crank's own notions travel on gRPC and HTTP. Every party (controller,
 * runtime, client, tests) reads these names and limits from here, so that no two copies drift.
 * Contract error codes and their gRPC and HTTP statuses (both directions) are the table in
 * `@crank/capabilities` (`ERROR_CODE_STATUS`, `CODE_OF_GRPC_STATUS`); their trailer is
 * {@link ERROR_METADATA_KEY} in error-metadata.ts.
 */

/** Streaming mode names as `@crank/capabilities` spells them. */
export type StreamingModeName = 'none' | 'input' | 'output' | 'bidi';

const MODE_BY_NAME: Readonly<Record<StreamingModeName, StreamingMode>> = Object.freeze({
  none: StreamingMode.STREAMING_MODE_NONE,
  input: StreamingMode.STREAMING_MODE_INPUT,
  output: StreamingMode.STREAMING_MODE_OUTPUT,
  bidi: StreamingMode.STREAMING_MODE_BIDI,
});

/** The wire enum of a streaming mode name. */
export function streamingModeToWire(name: StreamingModeName): StreamingMode {
  return MODE_BY_NAME[name];
}

/** The name of a wire streaming mode; unspecified or unknown values read as `none`. */
export function streamingModeFromWire(mode: StreamingMode | number): StreamingModeName {
  switch (mode) {
    case StreamingMode.STREAMING_MODE_INPUT:
      return 'input';
    case StreamingMode.STREAMING_MODE_OUTPUT:
      return 'output';
    case StreamingMode.STREAMING_MODE_BIDI:
      return 'bidi';
    default:
      return 'none';
  }
}

/**
 * Response header (or, for a call that fails in the turn it was accepted, trailer) by which a
 * worker says it accepted a unary call: "do not send this elsewhere".
 */
export const ACCEPTED_HEADER = 'crank-accepted';

/**
 * Request header of a call one controller forwards to another (which has the workers): the
 * original caller's identity. Honoured only from a controller's certificate; a forwarded call is
 * never forwarded again.
 */
export const FORWARDED_FOR_HEADER = 'crank-forwarded-for';

/** HTTP headers of the controller's API. */
export const HTTP_HEADERS = Object.freeze({
  /** Request: the call's deadline, in milliseconds from now. */
  timeoutMs: 'x-crank-timeout-ms',
  /** Request and response: the call's id, for logs. */
  requestId: 'x-request-id',
  /** Response: the worker that served the call. */
  worker: 'x-crank-worker',
  /** Response: the capability version that served the call. */
  version: 'x-crank-version',
});

/** Limits every party enforces at its edge, so that no input is echoed or held without bound. */
export const WIRE_LIMITS = Object.freeze({
  /** Largest gRPC message either way (a payload plus its envelope). */
  maxMessageBytes: 64 * 1024 * 1024,
  /** Longest capability id accepted in a call (the definition rules allow 128). */
  maxCapabilityIdLength: 128,
  /** Longest semver range accepted in a call. */
  maxRangeLength: 256,
  /** Longest request id accepted; longer ones are replaced. */
  maxRequestIdLength: 128,
  /** Longest deadline a call may ask for (24 h); later deadlines are refused or clamped. */
  maxDeadlineMs: 24 * 3_600_000,
  /** Longest text of caller input echoed in an error message. */
  maxEchoedChars: 128,
  /**
   * HTTP/2 receive window of each stream, both ways. HTTP/2's default of 64 KiB lets a stream
   * carry one window per round trip through a busy event loop: an upload streamed through the
   * controller ran at half the speed it does with 1 MiB (tools/bench/mbox).
   */
  streamWindowBytes: 1024 * 1024,
  /** HTTP/2 receive window of each connection, shared by its streams. */
  connectionWindowBytes: 8 * 1024 * 1024,
});

/**
 * `text` cut to {@link WIRE_LIMITS.maxEchoedChars} for an error message, so that hostile input is
 * never sent back whole (a 40 KB name in a trailer would wedge the connection).
 */
export function echo(text: string, maxChars: number = WIRE_LIMITS.maxEchoedChars): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}... (${text.length} chars)`;
}

/** A delay safe for `setTimeout`, which fires at once for anything past 2^31-1 ms. */
export function timerDelayMs(ms: number): number {
  return Math.min(Math.max(0, ms), 2 ** 31 - 1);
}

/** The parts of a capability definition that travel in a {@link CapabilityDescriptor}. */
export interface DescribedCapability {
  readonly id: string;
  readonly version: string;
  readonly description?: string;
  readonly inputSchema: unknown;
  readonly outputSchema: unknown;
  readonly errorCodes: readonly string[];
  readonly streaming: StreamingModeName;
  readonly resources: { readonly gpu: boolean; readonly maxConcurrency: number; readonly memoryMb?: number };
  readonly idempotent: boolean;
  readonly inputMediaTypes: readonly string[];
}

/** A capability definition as a worker declares it on the wire. */
export function descriptorFromDefinition(definition: DescribedCapability): CapabilityDescriptor {
  return CapabilityDescriptor.fromPartial({
    id: definition.id,
    version: definition.version,
    description: definition.description ?? '',
    inputSchemaJson: JSON.stringify(definition.inputSchema),
    outputSchemaJson: JSON.stringify(definition.outputSchema),
    errorCodes: [...definition.errorCodes],
    streaming: streamingModeToWire(definition.streaming),
    resources: {
      gpu: definition.resources.gpu,
      maxConcurrency: definition.resources.maxConcurrency,
      memoryMb: definition.resources.memoryMb ?? 0,
    },
    idempotent: definition.idempotent,
    inputMediaTypes: [...definition.inputMediaTypes],
  });
}

/**
 * A declared descriptor as a definition object for `parseCapabilityDefinition`, which checks it.
 * Zero values the wire cannot tell from "not given" become absent, so defaults apply.
 *
 * @param where - the descriptor's place in its request, for messages (`capabilities[2]`)
 * @throws SyntaxError naming `${where}.inputSchema` or `.outputSchema` when a schema is not JSON
 */
export function definitionFromDescriptor(
  descriptor: CapabilityDescriptor,
  where = 'capability',
): Record<string, unknown> {
  return {
    id: descriptor.id,
    version: descriptor.version,
    description: descriptor.description || undefined,
    inputSchema: parseSchema(descriptor.inputSchemaJson, `${where}.inputSchema`),
    outputSchema: parseSchema(descriptor.outputSchemaJson, `${where}.outputSchema`),
    errorCodes: descriptor.errorCodes,
    streaming: streamingModeFromWire(descriptor.streaming),
    resources: {
      gpu: descriptor.resources?.gpu ?? false,
      maxConcurrency: descriptor.resources?.maxConcurrency || undefined,
      memoryMb: descriptor.resources?.memoryMb || undefined,
    },
    idempotent: descriptor.idempotent,
    inputMediaTypes: descriptor.inputMediaTypes,
  };
}

function parseSchema(json: string, field: string): unknown {
  if (!json) return undefined;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    throw new SyntaxError(`${field}: is not valid JSON`);
  }
}
