import { once } from 'node:events';
import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import { CrankError, crankErrorFrom } from '@crank/capabilities';
import { parseDetailsJson, StreamFrame, type StreamOpen } from '@crank/proto';
import { errorFromServiceError } from './grpc-error.js';
import { fromPayload, toPayload } from './payload.js';

/** The worker that took a stream and the exact capability version it serves. */
export interface StreamAcceptance {
  workerId: string;
  version: string;
}

/**
 * A streaming call: iterate it once for the output records (parsed JSON) or chunks (Buffer).
 * Output is pulled from the transport as the loop asks for it, so a slow reader slows the worker.
 */
export interface InvocationStream<O> extends AsyncIterable<O> {
  /**
   * Resolves once a worker accepted the stream, whether or not the output is being read; rejects
   * with the call's CrankError when none does (NOT_FOUND, RESOURCE_EXHAUSTED, ...).
   */
  readonly accepted: Promise<StreamAcceptance>;
  /** Cancels the call: the input stops being read and the reader fails with CANCELLED. */
  cancel(): void;
}

/** How {@link openInvocationStream} sends input and ties the call to the caller. */
export interface InvocationStreamOptions {
  /** Content type of byte (Buffer, Uint8Array) input chunks. */
  contentType?: string;
  /** Aborting it cancels the call. */
  signal?: AbortSignal;
}

type Call = ClientDuplexStream<StreamFrame, StreamFrame>;

/**
 * Drives one InvokeStream call that has just been started: sends `open`, reads the controller's
 * first frame at once (so `accepted` settles without a reader), then pumps `input` with
 * back-pressure (a chunk is written only once the previous ones left, as far as the transport's
 * buffers allow) while the returned iterable reads the output from the same frame iterator.
 *
 * The call is over at its gRPC status, whatever the outcome (end, cancel, deadline, error): the
 * pump then stops at once, closes the input iterator, and the caller's signal is let go. An input
 * that throws cancels the call, and the reader fails with that error.
 */
export function openInvocationStream<O>(
  call: Call,
  open: StreamOpen,
  input: AsyncIterable<unknown> | Iterable<unknown>,
  options: InvocationStreamOptions = {},
): InvocationStream<O> {
  // Aborted once the call is over or cancelled: every wait of the pump listens to it.
  const over = new AbortController();
  // The first failure of the call, surfaced to the reader: the input's own error when the input
  // failed, else the call's status as a CrankError.
  let failure: Error | undefined;

  const cancel = (): void => {
    over.abort();
    call.cancel();
  };
  const onAbort = (): void => cancel();
  call.on('error', (error: Error) => {
    failure ??= isServiceError(error) ? errorFromServiceError(error) : error;
  });
  call.on('status', () => {
    options.signal?.removeEventListener('abort', onAbort);
    over.abort();
  });
  if (options.signal?.aborted) cancel();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  call.write(StreamFrame.fromPartial({ frame: { $case: 'open', value: open } }));
  const frames = (call as AsyncIterable<StreamFrame>)[Symbol.asyncIterator]();
  const accepted = frames.next().then(
    (head): StreamAcceptance => {
      const frame = head.done ? undefined : head.value.frame;
      if (frame?.$case === 'accepted')
        return { workerId: frame.value.workerId, version: frame.value.version };
      failure ??= new CrankError(
        'INTERNAL',
        `stream: the controller's first frame must be "accepted" (got ${frame?.$case ?? 'the end of the call'})`,
      );
      cancel();
      throw failure;
    },
    (error: unknown) => {
      throw failure ?? asError(error);
    },
  );
  accepted.catch(() => undefined);

  const pump = async (): Promise<void> => {
    await accepted;
    const source = iteratorOf(input);
    let sent = false;
    try {
      for (;;) {
        const next = await untilAborted(Promise.resolve(source.next()), over.signal);
        if (next.done) break;
        const chunk = StreamFrame.fromPartial({
          frame: { $case: 'chunk', value: toPayload(next.value, options.contentType) },
        });
        if (!call.write(chunk)) await once(call, 'drain', { signal: over.signal });
      }
      sent = true;
      call.write(StreamFrame.fromPartial({ frame: { $case: 'end', value: {} } }));
      call.end();
    } finally {
      if (!sent) closeQuietly(source);
    }
  };
  pump().catch((error: unknown) => {
    if (over.signal.aborted) return; // the call ended first: its own outcome is the reader's error
    failure ??= asError(error);
    cancel();
  });

  async function* read(): AsyncGenerator<O> {
    // Whether the output came to its end; if the loop leaves before, the call is cancelled.
    let complete = false;
    try {
      await accepted;
      for (;;) {
        let next: IteratorResult<StreamFrame>;
        try {
          next = await frames.next();
        } catch (error) {
          throw failure ?? asError(error);
        }
        const frame = next.done ? undefined : next.value.frame;
        if (next.done || frame?.$case === 'end') {
          complete = true;
          const info = frame?.$case === 'end' ? frame.value.error : undefined;
          if (info) {
            throw crankErrorFrom(info.code, info.message, parseDetailsJson(info.detailsJson), {
              retryable: info.retryable,
            });
          }
          return;
        }
        if (frame?.$case === 'chunk') yield fromPayload(frame.value) as O;
      }
    } finally {
      if (!complete) cancel();
    }
  }
  const output = read();
  return { accepted, cancel, [Symbol.asyncIterator]: () => output };
}

function iteratorOf<T>(input: AsyncIterable<T> | Iterable<T>): AsyncIterator<T> | Iterator<T> {
  return Symbol.asyncIterator in input ? input[Symbol.asyncIterator]() : input[Symbol.iterator]();
}

/**
 * Closes an input that was not read to its end. A generator parked at an await closes once that
 * await settles; nothing waits for it, and its errors are not the call's.
 */
function closeQuietly(source: AsyncIterator<unknown> | Iterator<unknown>): void {
  try {
    Promise.resolve(source.return?.()).catch(() => undefined);
  } catch {
    // A sync iterator whose return() throws: the input is gone either way.
  }
}

/** `promise`, or a rejection with the signal's reason as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(asError(error));
      },
    );
  });
}

function isServiceError(error: Error): error is ServiceError {
  return typeof (error as Partial<ServiceError>).code === 'number' && 'metadata' in error;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
