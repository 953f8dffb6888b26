import { randomUUID } from 'node:crypto';
import { Metadata, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';
import { CrankError, type Capability, type JsonSchema, type StreamingMode } from '@crank/capabilities';
import {
  ControllerClient,
  InvokeRequest,
  Payload,
  StreamOpen,
  streamingModeFromWire,
  type CapabilitySummary,
  type WorkerSummary,
} from '@crank/proto';
import { errorFromServiceError } from './grpc-error.js';
import { channelCredentials, controllerChannelOptions, type TlsIdentity } from './identity.js';
import { openInvocationStream, type InvocationStream } from './invocation-stream.js';
import { JobsClient } from './jobs-client.js';
import { fromPayload, JSON_TYPE, toPayload } from './payload.js';

/** Options of one call. */
export interface CallOptions {
  /**
   * Semver range of the capability. @default any version for a capability named by its id;
   * `^<version>` for a {@link Capability} object
   */
  version?: string;
  /** Absolute deadline; propagated to the worker. */
  deadline?: Date;
  /** Relative deadline in ms, used when `deadline` is not given. */
  timeoutMs?: number;
  /** Cancels the call; the worker's handler sees its own signal abort. */
  signal?: AbortSignal;
  /** Content type for byte (Buffer, Uint8Array) inputs. @default 'application/octet-stream' */
  contentType?: string;
  /** Correlates the call in the controller's and the worker's logs. @default a random UUID */
  requestId?: string;
}

/** The answer of a unary call. */
export interface InvokeResult<O> {
  /** Parsed JSON output, or a Buffer for non-JSON outputs. */
  output: O;
  contentType: string;
  /** The worker that served the call. */
  workerId: string;
  /** The exact capability version that served it. */
  version: string;
}

/** One capability version as the controller offers it now. */
export interface CapabilityInfo {
  id: string;
  version: string;
  description: string;
  liveWorkers: number;
  /** How it exchanges data: `'none'` is a unary call, the others take `invokeStream`. */
  streaming: StreamingMode;
  /** Media types of raw-bytes input it takes besides JSON, e.g. `application/mbox`. */
  inputMediaTypes: string[];
  /** JSON Schema of its input (of each input record, for a stream). */
  inputSchema: JsonSchema;
  /** JSON Schema of its output (of each output record, for a stream). */
  outputSchema: JsonSchema;
}

/** One registered worker with its state and load. */
export interface WorkerInfo {
  id: string;
  address: string;
  state: string;
  gpu: boolean;
  inFlight: number;
  completed: number;
  lastHeartbeat: Date;
  capabilities: { id: string; version: string; ready: boolean; inFlight: number; reason: string }[];
}

/**
 * Typed client of a Crank controller over mTLS.
 *
 * @example
 * ```ts
 * const client = await connectClient({ name: 'reports' });
 * const { output, workerId } = await client.invoke('debug.echo', { message: 'hi' }, { version: '^1' });
 * const typed = await client.invoke(DEBUG_ECHO, { message: 'hi' }); // output: DebugEchoOutput
 * const job = await client.jobs.submit(DEBUG_ECHO, { message: 'later' }); // queued, retried, kept
 * ```
 */
export class CrankClient {
  /** Jobs: submit, follow, wait for, list, cancel and retry queued capability calls. */
  readonly jobs: JobsClient;

  protected constructor(private readonly grpc: ControllerClient) {
    this.jobs = new JobsClient(grpc);
  }

  /**
   * A client for `address` speaking mTLS with `identity`. Does no I/O until the first call.
   * `channelOptions` override grpc-js channel settings (e.g. reconnect backoff).
   */
  static create(
    address: string,
    identity: Pick<TlsIdentity, 'caPem' | 'keyPem' | 'certPem'>,
    channelOptions: ChannelOptions = {},
  ): CrankClient {
    return new CrankClient(
      new ControllerClient(address, channelCredentials(identity.caPem, identity), {
        ...controllerChannelOptions(),
        ...channelOptions,
      }),
    );
  }

  /**
   * Calls a capability and waits for its answer. Given a {@link Capability}, input and output are
   * typed by it and the call asks for `^<its version>` unless `options.version` says otherwise.
   *
   * @throws CrankError with the contract code (NOT_FOUND, INVALID_INPUT, RESOURCE_EXHAUSTED, ...)
   */
  invoke<I, O>(capability: Capability<I, O>, input: I, options?: CallOptions): Promise<InvokeResult<O>>;
  invoke<O = unknown>(capability: string, input: unknown, options?: CallOptions): Promise<InvokeResult<O>>;
  invoke(
    capability: string | Capability,
    input: unknown,
    options: CallOptions = {},
  ): Promise<InvokeResult<unknown>> {
    const target = targetOf(capability, options);
    const request = InvokeRequest.fromPartial({
      capability: target.id,
      version: target.version,
      input: toPayload(input, options.contentType),
      requestId: options.requestId ?? randomUUID(),
    });
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new CrankError('CANCELLED', 'the call was cancelled before it started'));
        return;
      }
      const call = this.grpc.invoke(
        request,
        new Metadata(),
        deadlineOf(options),
        (error: ServiceError | null, res) => {
          options.signal?.removeEventListener('abort', onAbort);
          if (error) {
            reject(errorFromServiceError(error));
            return;
          }
          const output = res.output ?? Payload.fromPartial({});
          resolve({
            output: fromPayload(output),
            contentType: output.contentType,
            workerId: res.workerId,
            version: res.version,
          });
        },
      );
      const onAbort = (): void => call.cancel();
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Opens a streaming call. `input` items are JSON records, or Buffers sent as raw chunks with
   * `options.contentType`; each is written once the network drained the previous ones
   * (back-pressure). Output records arrive parsed, chunks of a non-JSON type as Buffers.
   * `accepted` settles on its own; the output is read as the loop asks for it.
   *
   * The call ends at the output's end, on `cancel()`, on `options.signal`, at the deadline, or on
   * an error; the input then stops being read at once. An input that throws cancels the call and
   * the loop fails with that error.
   */
  invokeStream<I, O>(
    capability: Capability<I, O>,
    input: AsyncIterable<I | Uint8Array> | Iterable<I | Uint8Array>,
    options?: CallOptions,
  ): InvocationStream<O>;
  invokeStream<O = unknown>(
    capability: string,
    input: AsyncIterable<unknown> | Iterable<unknown>,
    options?: CallOptions,
  ): InvocationStream<O>;
  invokeStream(
    capability: string | Capability,
    input: AsyncIterable<unknown> | Iterable<unknown>,
    options: CallOptions = {},
  ): InvocationStream<unknown> {
    const target = targetOf(capability, options);
    const call = this.grpc.invokeStream(new Metadata(), deadlineOf(options));
    return openInvocationStream(
      call,
      StreamOpen.fromPartial({
        capability: target.id,
        version: target.version,
        contentType: options.contentType ?? JSON_TYPE,
        requestId: options.requestId ?? randomUUID(),
      }),
      input,
      {
        ...(options.contentType !== undefined ? { contentType: options.contentType } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
  }

  /**
   * Capabilities offered now, each version with its live worker count, streaming mode and schemas.
   *
   * @throws CrankError INTERNAL when the controller sends a schema that is not JSON
   */
  async capabilities(): Promise<CapabilityInfo[]> {
    const res = await this.unary<{ capabilities: CapabilitySummary[] }>((cb) =>
      this.grpc.listCapabilities({}, cb),
    );
    return res.capabilities.map((c, index) => ({
      id: c.id,
      version: c.version,
      description: c.description,
      liveWorkers: c.liveWorkers,
      streaming: streamingModeFromWire(c.streaming),
      inputMediaTypes: [...c.inputMediaTypes],
      inputSchema: parseSchema(c.inputSchemaJson, `capabilities[${index}].inputSchemaJson`),
      outputSchema: parseSchema(c.outputSchemaJson, `capabilities[${index}].outputSchemaJson`),
    }));
  }

  /** Registered workers with their state and load. */
  async workers(): Promise<WorkerInfo[]> {
    const res = await this.unary<{ workers: WorkerSummary[] }>((cb) => this.grpc.listWorkers({}, cb));
    return res.workers.map((w) => ({
      id: w.workerId,
      address: w.address,
      state: w.state,
      gpu: w.gpu,
      inFlight: w.inFlight,
      completed: w.completed,
      lastHeartbeat: new Date(w.lastHeartbeatUnixMs),
      capabilities: w.capabilities.map((c) => ({
        id: c.id,
        version: c.version,
        ready: c.ready,
        inFlight: c.inFlight,
        reason: c.reason,
      })),
    }));
  }

  /** The generated gRPC client, for the registry calls the worker runtime makes. */
  get raw(): ControllerClient {
    return this.grpc;
  }

  /** Closes the channel; calls in flight fail with UNAVAILABLE or CANCELLED. */
  close(): void {
    this.grpc.close();
  }

  private unary<T>(start: (cb: (error: ServiceError | null, res: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) =>
      start((error, res) => (error ? reject(errorFromServiceError(error)) : resolve(res))),
    );
  }
}

/** The capability id and the version range a call asks for. */
function targetOf(capability: string | Capability, options: CallOptions): { id: string; version: string } {
  if (typeof capability === 'string') return { id: capability, version: options.version ?? '' };
  return { id: capability.id, version: options.version ?? `^${capability.version}` };
}

function deadlineOf(options: CallOptions): { deadline?: Date } {
  if (options.deadline) return { deadline: options.deadline };
  if (options.timeoutMs !== undefined) return { deadline: new Date(Date.now() + options.timeoutMs) };
  return {};
}

/** A schema sent as JSON text; empty means no constraint. */
function parseSchema(json: string, field: string): JsonSchema {
  if (json === '') return true;
  let schema: unknown;
  try {
    schema = JSON.parse(json) as unknown;
  } catch (error) {
    throw new CrankError('INTERNAL', `${field}: must be JSON (${(error as Error).message})`);
  }
  if (
    typeof schema === 'boolean' ||
    (typeof schema === 'object' && schema !== null && !Array.isArray(schema))
  )
    return schema as JsonSchema;
  throw new CrankError('INTERNAL', `${field}: must be a JSON Schema object or boolean`);
}
