import type { ServerResponse } from 'node:http';
import { Duplex, type Readable } from 'node:stream';
import type { StatusObject } from '@grpc/grpc-js';
import { CrankError, crankErrorFromStatus } from '@crank/capabilities';
import { HTTP_HEADERS, StreamFrame, wireErrorInfo, type Payload, type StreamOpen } from '@crank/proto';
import { asCrankError } from '../grpc/grpc-errors.js';
import type { RelayCaller } from '../invoke/stream-relay.js';
import { isJson } from '../invoke/payloads.js';
import { bodyPayloads, discardRequestBody, readRequestBody, type StreamInput } from './stream-body.js';

/** Media type of the route's answers: one JSON record per line. */
export const NDJSON = 'application/x-ndjson';
/** How long the rest of a body that is no longer needed is read (and dropped) before the close. */
const LINGER_MS = 30_000;

/** The worker that took an HTTP stream, and the version it serves. */
export interface HttpStreamAcceptance {
  workerId: string;
  version: string;
}

/** What an {@link HttpStreamCaller} relays. */
export interface HttpStreamCallerOptions {
  /** The open frame's fields (its `caller` is set by the relay). */
  open: Pick<StreamOpen, 'capability' | 'version' | 'contentType' | 'requestId'>;
  /** Epoch ms; undefined for no deadline. */
  deadlineMs: number | undefined;
  /** The request body (undefined when it has none), read as the relay asks for frames. */
  body: Readable | undefined;
  /** How the body is read. */
  input: StreamInput;
  /** Largest JSON record read from the body. */
  maxRecordBytes: number;
  response: ServerResponse;
  /** Called once a worker accepted, before the head is written (the route hands the reply over). */
  onAccepted(): void;
}

/**
 * The HTTP stream route seen by the {@link StreamRelay} as a caller, the way a gRPC InvokeStream
 * call is: it reads `open`, the body's chunks and `end` as frames (pulling the request body only
 * as the relay takes frames, so a slow worker slows the upload), and writes each record the
 * worker sends as one NDJSON line (waiting for the socket to drain, so a slow reader slows the
 * worker). A failure before a worker accepted rejects {@link accepted} (the route answers it with
 * its HTTP status); after, it ends the body with one `{ "error": ... }` line. A client that goes
 * away cancels the call.
 */
export class HttpStreamCaller extends Duplex implements RelayCaller {
  /** Set when the client went away, or its body could not be read: the relay then stays quiet. */
  cancelled = false;
  /** Resolves when a worker accepted; rejects with the call's error when it failed before. */
  readonly accepted: Promise<HttpStreamAcceptance>;
  /** Resolves when the response is over, whatever the outcome. */
  readonly done: Promise<void>;
  private readonly frames: AsyncIterator<StreamFrame>;
  private readonly response: ServerResponse;
  private settleAccepted!: { resolve(value: HttpStreamAcceptance): void; reject(error: CrankError): void };
  private finishDone!: () => void;
  private headSent = false;
  private over = false;
  /** Stops reading the request body once the call is over. */
  private readonly reading = new AbortController();

  constructor(private readonly options: HttpStreamCallerOptions) {
    // A few frames buffered each way: enough to keep both sides busy, bounded whatever the sizes.
    super({ objectMode: true, highWaterMark: 4, allowHalfOpen: true, autoDestroy: false });
    this.response = options.response;
    this.accepted = new Promise((resolve, reject) => (this.settleAccepted = { resolve, reject }));
    this.accepted.catch(() => undefined);
    this.done = new Promise((resolve) => (this.finishDone = resolve));
    this.frames = this.generate()[Symbol.asyncIterator]();
    // The relay emits the gRPC status of its failure; anything else is our own.
    this.on('error', (status: Partial<StatusObject> | Error) => this.fail(statusError(status)));
    this.response.on('close', () => {
      if (!this.over) this.cancel(new CrankError('CANCELLED', 'the client closed the connection'));
    });
  }

  getDeadline(): number {
    return this.options.deadlineMs ?? Number.POSITIVE_INFINITY;
  }

  override _read(): void {
    this.frames.next().then(
      (next) => this.push(next.done ? null : next.value),
      (error: unknown) => {
        // The client went away mid-body (its request stream errs), or sent a record too large.
        this.cancel(
          error instanceof CrankError ? error : new CrankError('CANCELLED', 'the request body ended early'),
        );
      },
    );
  }

  override _write(
    frame: StreamFrame,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    const body = frame.frame;
    if (body?.$case === 'accepted') {
      this.writeHead(body.value.workerId, body.value.version);
      callback();
    } else if (body?.$case === 'chunk') {
      this.writeLine(recordLine(body.value), callback);
    } else if (body?.$case === 'end' && body.value.error) {
      const { code, message, detailsJson } = body.value.error;
      const details = detailsJson ? (JSON.parse(detailsJson) as unknown) : {};
      this.writeLine(`${JSON.stringify({ error: { code, message, details } })}\n`, callback);
    } else {
      callback();
    }
  }

  /** The relay ended the stream: the worker's output is complete. */
  override _final(callback: (error?: Error | null) => void): void {
    this.finish();
    callback();
  }

  private async *generate(): AsyncGenerator<StreamFrame> {
    yield StreamFrame.fromPartial({ frame: { $case: 'open', value: this.options.open } });
    const { body, input, maxRecordBytes } = this.options;
    if (body) {
      for await (const payload of bodyPayloads(
        readRequestBody(body, this.reading.signal),
        input,
        maxRecordBytes,
      )) {
        yield StreamFrame.fromPartial({ frame: { $case: 'chunk', value: payload } });
      }
    }
    if (!this.reading.signal.aborted) yield StreamFrame.fromPartial({ frame: { $case: 'end', value: {} } });
  }

  /** The call is over: stop reading the body, and drop what the client still sends. */
  private stopReading(): void {
    this.reading.abort();
    if (this.options.body && !this.cancelled) discardRequestBody(this.options.body, LINGER_MS);
  }

  private writeHead(workerId: string, version: string): void {
    if (this.headSent || this.over) return;
    this.headSent = true;
    this.settleAccepted.resolve({ workerId, version });
    this.options.onAccepted();
    this.response.writeHead(200, {
      'content-type': NDJSON,
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      [HTTP_HEADERS.worker]: workerId,
      [HTTP_HEADERS.version]: version,
    });
    this.response.flushHeaders();
  }

  /** Writes a line; calls `callback` once the socket can take more (or is gone). */
  private writeLine(line: string, callback: () => void): void {
    const response = this.response;
    if (this.over || response.destroyed) {
      callback();
      return;
    }
    if (response.write(line)) {
      callback();
      return;
    }
    const resume = (): void => {
      response.removeListener('drain', resume);
      response.removeListener('close', resume);
      callback();
    };
    response.once('drain', resume);
    response.once('close', resume);
  }

  /** The call failed: before acceptance the route answers it; after, one error line ends the body. */
  private fail(error: CrankError): void {
    if (this.over) return;
    if (!this.headSent) {
      this.over = true;
      this.stopReading();
      this.settleAccepted.reject(error);
      this.finishDone();
      this.destroy();
      return;
    }
    this.response.write(`${JSON.stringify({ error: error.toJSON() })}\n`);
    this.finish();
  }

  /** Cancels the call (the relay cancels the worker) and ends the response with `error`. */
  private cancel(error: CrankError): void {
    if (this.over || this.cancelled) return;
    this.cancelled = true;
    this.emit('cancelled');
    this.fail(error);
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.stopReading();
    if (!this.response.destroyed) this.response.end();
    this.finishDone();
    this.destroy();
  }
}

/** One NDJSON line for a worker's record: JSON as one line, bytes as `{ contentType, bytes, base64 }`. */
function recordLine(payload: Payload): string {
  const data = Buffer.from(payload.data.buffer, payload.data.byteOffset, payload.data.byteLength);
  if (isJson(payload.contentType)) {
    if (data.length === 0) return 'null\n';
    // The relay has parsed it already; JSON with line breaks in it (pretty-printed) is put on one.
    if (data.indexOf(0x0a) < 0 && data.indexOf(0x0d) < 0) return `${data.toString('utf8')}\n`;
    return `${JSON.stringify(JSON.parse(data.toString('utf8')))}\n`;
  }
  return `${JSON.stringify({ contentType: payload.contentType, bytes: data.length, base64: data.toString('base64') })}\n`;
}

/** The contract error of a gRPC status the relay emits (or of an error of our own). */
function statusError(status: Partial<StatusObject> | Error): CrankError {
  if (status instanceof Error && !('code' in status && 'metadata' in status)) return asCrankError(status);
  const { code, details, metadata } = status as Partial<StatusObject>;
  return crankErrorFromStatus(code ?? 13, details ?? '', wireErrorInfo(metadata));
}
