import { randomUUID } from 'node:crypto';
import { Metadata, type ChannelOptions, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { CrankError } from '@crank/capabilities';
import {
  ControllerClient,
  InvokeRequest,
  Payload,
  StreamFrame,
  type CapabilitySummary,
  type WorkerSummary,
} from '@crank/proto';
import { errorFromServiceError } from './grpc-error.js';
import { channelCredentials, controllerChannelOptions, type TlsIdentity } from './identity.js';

const JSON_TYPE = 'application/json';

/** Options of one call. */
export interface CallOptions {
  /** Semver range of the capability; any version when omitted. */
  version?: string;
  /** Absolute deadline; propagated to the worker. */
  deadline?: Date;
  /** Relative deadline in ms, used when `deadline` is not given. */
  timeoutMs?: number;
  /** Cancels the call; the worker's handler sees its own signal abort. */
  signal?: AbortSignal;
  /** Content type for byte inputs. @default 'application/octet-stream' */
  contentType?: string;
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

export interface CapabilityInfo {
  id: string;
  version: string;
  description: string;
  liveWorkers: number;
}

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

/** A streaming call: iterate it for output records (parsed JSON) or chunks (Buffer). */
export interface InvocationStream<O> extends AsyncIterable<O> {
  /** Resolves once a worker accepted the stream. */
  readonly accepted: Promise<{ workerId: string; version: string }>;
  /** Cancels the call. */
  cancel(): void;
}

/**
 * Typed client of a Crank controller over mTLS.
 *
 * @example
 * ```ts
 * const client = await connectClient({ name: 'reports' });
 * const { output, workerId } = await client.invoke('debug.echo', { message: 'hi' }, { version: '^1' });
 * ```
 */
export class CrankClient {
  protected constructor(private readonly grpc: ControllerClient) {}

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
   * Calls a capability and waits for its answer.
   * @throws CrankError with the contract code (NOT_FOUND, INVALID_INPUT, RESOURCE_EXHAUSTED, ...)
   */
  invoke<O = unknown>(
    capability: string,
    input: unknown,
    options: CallOptions = {},
  ): Promise<InvokeResult<O>> {
    const request = InvokeRequest.fromPartial({
      capability,
      version: options.version ?? '',
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
            output: fromPayload(output) as O,
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
   * Opens a streaming call. `input` items are JSON records, or Buffers sent as raw chunks; writing
   * waits for the network to drain (back-pressure). Output is read as it arrives.
   */
  invokeStream<O = unknown>(
    capability: string,
    input: AsyncIterable<unknown> | Iterable<unknown>,
    options: CallOptions = {},
  ): InvocationStream<O> {
    const call: ClientDuplexStream<StreamFrame, StreamFrame> = this.grpc.invokeStream(
      new Metadata(),
      deadlineOf(options),
    );
    const onAbort = (): void => call.cancel();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let acceptOk: (value: { workerId: string; version: string }) => void = () => undefined;
    let acceptFail: (error: Error) => void = () => undefined;
    const accepted = new Promise<{ workerId: string; version: string }>((resolve, reject) => {
      acceptOk = resolve;
      acceptFail = reject;
    });
    accepted.catch(() => undefined);
    const failures: Error[] = [];
    call.on('error', (error: ServiceError) => {
      const crank = errorFromServiceError(error);
      failures.push(crank);
      acceptFail(crank);
    });

    call.write(
      StreamFrame.fromPartial({
        frame: {
          $case: 'open',
          value: {
            capability,
            version: options.version ?? '',
            contentType: options.contentType ?? JSON_TYPE,
            requestId: options.requestId ?? randomUUID(),
          },
        },
      }),
    );
    const pump = async (): Promise<void> => {
      await accepted;
      for await (const item of input) {
        if (
          !call.write(
            StreamFrame.fromPartial({
              frame: { $case: 'chunk', value: toPayload(item, options.contentType) },
            }),
          )
        ) {
          await new Promise<void>((resolve) => call.once('drain', resolve));
        }
      }
      call.write(StreamFrame.fromPartial({ frame: { $case: 'end', value: {} } }));
      call.end();
    };
    pump().catch((error: unknown) => {
      if (failures.length === 0) call.destroy(error instanceof Error ? error : new Error(String(error)));
    });

    async function* read(): AsyncGenerator<O> {
      try {
        for await (const frame of call as AsyncIterable<StreamFrame>) {
          const f = frame.frame;
          if (f?.$case === 'accepted') acceptOk(f.value);
          else if (f?.$case === 'chunk') yield fromPayload(f.value) as O;
          else if (f?.$case === 'end') break;
        }
      } catch (error) {
        throw failures[0] ?? error;
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
      }
      if (failures[0]) throw failures[0];
    }
    const iterator = read();
    return {
      accepted,
      cancel: () => call.cancel(),
      [Symbol.asyncIterator]: () => iterator,
    };
  }

  /** Capabilities offered now, each version with its live worker count. */
  async capabilities(): Promise<CapabilityInfo[]> {
    const res = await this.unary<{ capabilities: CapabilitySummary[] }>((cb) =>
      this.grpc.listCapabilities({}, cb),
    );
    return res.capabilities.map((c) => ({
      id: c.id,
      version: c.version,
      description: c.description,
      liveWorkers: c.liveWorkers,
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

  close(): void {
    this.grpc.close();
  }

  private unary<T>(start: (cb: (error: ServiceError | null, res: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) =>
      start((error, res) => (error ? reject(errorFromServiceError(error)) : resolve(res))),
    );
  }
}

function deadlineOf(options: CallOptions): { deadline?: Date } {
  if (options.deadline) return { deadline: options.deadline };
  if (options.timeoutMs !== undefined) return { deadline: new Date(Date.now() + options.timeoutMs) };
  return {};
}

/** JSON for values, raw bytes for Buffers and Uint8Arrays. */
export function toPayload(value: unknown, contentType?: string): Payload {
  if (value instanceof Uint8Array) {
    return Payload.fromPartial({
      contentType: contentType ?? 'application/octet-stream',
      data: Buffer.from(value.buffer, value.byteOffset, value.byteLength),
    });
  }
  return Payload.fromPartial({ contentType: JSON_TYPE, data: Buffer.from(JSON.stringify(value ?? null)) });
}

/** Parsed JSON, or a Buffer for any other content type. */
export function fromPayload(payload: Payload): unknown {
  const data = Buffer.from(payload.data.buffer, payload.data.byteOffset, payload.data.byteLength);
  if (payload.contentType === '' || /^application\/(.+\+)?json\b/.test(payload.contentType)) {
    return data.length === 0 ? null : (JSON.parse(data.toString('utf8')) as unknown);
  }
  return data;
}
