import type { Readable } from 'node:stream';
import { CrankError, isJsonMediaType, mediaTypeOf, type Capability } from '@crank/capabilities';
import { Payload } from '@crank/proto';
import { JSON_CONTENT_TYPE } from '../invoke/payloads.js';

/**
 * How the HTTP stream route reads a request body: `ndjson`, one JSON record per line; `json`,
 * the whole body as one JSON record; `bytes`, raw chunks of the request's media type.
 */
export type BodyFraming = 'ndjson' | 'json' | 'bytes';

/** What a stream's input is, from the request's `content-type`. */
export interface StreamInput {
  framing: BodyFraming;
  /** The media type the stream opens with and its chunks carry. */
  contentType: string;
}

/** The media types read as NDJSON: one JSON record per line. */
export const NDJSON_TYPES: readonly string[] = [
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
];

/**
 * The input of a stream whose request says `contentType`: NDJSON records, one JSON record, or
 * bytes of that type (NDJSON too, when the capability lists it among its raw media types). Without a content type (`curl -T` sends none), the capability's first
 * raw media type when it takes bytes, else NDJSON.
 */
export function streamInputOf(contentType: string | undefined, capability: Capability): StreamInput {
  const header = contentType?.trim() ?? '';
  if (header === '') {
    const raw = capability.definition.inputMediaTypes[0];
    return raw
      ? { framing: 'bytes', contentType: raw }
      : { framing: 'ndjson', contentType: JSON_CONTENT_TYPE };
  }
  const type = mediaTypeOf(header);
  // A capability that takes NDJSON as raw bytes reads the lines itself (and reports a bad one
  // without ending the stream): relay them as they are.
  if (capability.acceptsMediaType(header) && !isJsonMediaType(type)) {
    return { framing: 'bytes', contentType: header };
  }
  if (NDJSON_TYPES.includes(type)) return { framing: 'ndjson', contentType: JSON_CONTENT_TYPE };
  if (isJsonMediaType(type)) return { framing: 'json', contentType: JSON_CONTENT_TYPE };
  return { framing: 'bytes', contentType: header };
}

/**
 * The chunk payloads of a request body, read only as they are asked for (the back-pressure of
 * the route): bytes as they arrive, NDJSON line by line (blank lines skipped), or the whole JSON
 * body. A record is at most `maxRecordBytes`.
 *
 * @throws CrankError PAYLOAD_TOO_LARGE for an NDJSON line or a JSON body over `maxRecordBytes`
 */
export async function* bodyPayloads(
  body: AsyncIterable<Buffer | string>,
  input: StreamInput,
  maxRecordBytes: number,
): AsyncGenerator<Payload> {
  const payload = (data: Buffer): Payload => Payload.fromPartial({ contentType: input.contentType, data });
  if (input.framing === 'bytes') {
    for await (const chunk of body) {
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (data.length > 0) yield payload(data);
    }
    return;
  }
  if (input.framing === 'json') {
    const parts: Buffer[] = [];
    let length = 0;
    for await (const chunk of body) {
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      length += data.length;
      if (length > maxRecordBytes) throw tooLarge('body', maxRecordBytes);
      parts.push(data);
    }
    yield payload(Buffer.concat(parts, length));
    return;
  }
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let line = 0;
  for await (const chunk of body) {
    let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a)) {
      line++;
      const record = trim(
        pending.length === 0 ? data.subarray(0, nl) : Buffer.concat([...pending, data.subarray(0, nl)]),
      );
      pending = [];
      pendingBytes = 0;
      if (record.length > maxRecordBytes) throw tooLarge(`body line ${line}`, maxRecordBytes);
      if (record.length > 0) yield payload(record);
      data = data.subarray(nl + 1);
    }
    if (data.length > 0) {
      pendingBytes += data.length;
      if (pendingBytes > maxRecordBytes) throw tooLarge(`body line ${line + 1}`, maxRecordBytes);
      pending.push(data);
    }
  }
  const last = trim(Buffer.concat(pending, pendingBytes));
  if (last.length > 0) yield payload(last);
}

/** `bytes` without the white space around it (a CR before the LF included). */
function trim(bytes: Buffer): Buffer {
  let start = 0;
  let end = bytes.length;
  while (start < end && isSpace(bytes[start] as number)) start++;
  while (end > start && isSpace(bytes[end - 1] as number)) end--;
  return bytes.subarray(start, end);
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a;
}

function tooLarge(what: string, max: number): CrankError {
  return new CrankError('PAYLOAD_TOO_LARGE', `${what}: a record may be at most ${max} bytes`, {
    details: { maxBytes: max },
  });
}

/**
 * The chunks of a request body as the socket delivers them (never joined: no copy, no chunk
 * larger than a socket read), each read only when asked for: the body is paused in between, so
 * TCP slows the client. Ends early, without error, when `signal` aborts (its listeners are gone
 * then, so the rest can be discarded); fails with CANCELLED when the client goes away before the
 * end of its body.
 */
export async function* readRequestBody(body: Readable, signal: AbortSignal): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = body.readableEnded;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const onData = (chunk: Buffer | string): void => {
    queue.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    body.pause();
    notify();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const onError = (error: unknown): void => {
    failure ??= error;
    notify();
  };
  const onClose = (): void => {
    if (!ended) failure ??= new CrankError('CANCELLED', 'the client went away before the end of its body');
    notify();
  };
  const detach = (): void => {
    body.removeListener('data', onData);
    body.removeListener('end', onEnd);
    body.removeListener('error', onError);
    body.removeListener('close', onClose);
    signal.removeEventListener('abort', onAbort);
  };
  const onAbort = (): void => {
    detach();
    notify();
  };
  body.pause();
  body.on('data', onData);
  body.on('end', onEnd);
  body.on('error', onError);
  body.on('close', onClose);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (signal.aborted) return;
      const chunk = queue.shift();
      if (chunk) {
        yield chunk;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (ended) return;
      if (body.destroyed)
        throw new CrankError('CANCELLED', 'the client went away before the end of its body');
      const woken = new Promise<void>((resolve) => (wake = resolve));
      body.resume();
      await woken;
    }
  } finally {
    detach();
  }
}

/**
 * Reads the rest of a request body and drops it, so that the answer already sent reaches the
 * client whole (closing a socket with unread input makes the kernel reset it); past `lingerMs`
 * the connection is closed anyway. Call once the body is no longer read.
 */
export function discardRequestBody(body: Readable, lingerMs: number): void {
  if (body.readableEnded || body.destroyed) return;
  const timer = setTimeout(() => body.destroy(), lingerMs);
  timer.unref();
  body.once('close', () => clearTimeout(timer));
  body.once('end', () => clearTimeout(timer));
  body.on('data', () => undefined);
  body.resume();
}
