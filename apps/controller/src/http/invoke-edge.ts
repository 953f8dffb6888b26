import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { CrankError, type ErrorCode } from '@crank/capabilities';
import { HTTP_HEADERS, WIRE_LIMITS } from '@crank/proto';
import { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ControllerCore } from '../controller-core.js';

/** Paths of the routes that run calls, as Fastify names them. */
const INVOKE_ROUTE = '/v1/invoke/:capability';
/** The streaming route (POST, and PUT for `curl -T`): its body is never buffered. */
const STREAM_ROUTE = '/v1/stream/:capability';

/**
 * The HTTP edge of calls, installed on the Fastify instance before any route runs:
 * - bodies of every media type arrive as raw bytes (JSON is parsed once, by the input check, and
 *   answered byte for byte: no re-encoding, no second copy), up to the body limit; the body of
 *   the stream route is handed over unread, as a stream, with no limit (it is read as the worker
 *   takes it: a multi-GB upload is never held);
 * - a call is refused before its body is read when it cannot be served now (an unknown
 *   capability, every slot busy and the queue full, or the payload budget spent; for a stream, a
 *   capability that does not stream): under overload, refusing costs almost nothing, so `/health`
 *   and `/metrics` stay responsive;
 * - 429 and 503 answers carry `Retry-After`.
 */
export function installInvokeEdge(fastify: FastifyInstance, core: ControllerCore): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (request, payload, done) => {
    if (isStreamRoute(request)) done(null, payload);
    else readWholeBody(request, payload, done);
  });

  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    const stream = isStreamRoute(request);
    if (!stream && (request.method !== 'POST' || request.routeOptions.url !== INVOKE_ROUTE)) {
      done();
      return;
    }
    try {
      const { capability } = request.params as { capability: string };
      const range = singleQuery(request.query, 'version') ?? '';
      if (
        capability.length > WIRE_LIMITS.maxCapabilityIdLength ||
        range.length > WIRE_LIMITS.maxRangeLength
      ) {
        done();
        return; // the handler names the field at fault
      }
      core.router.admit(capability, range);
      if (stream) {
        // Stream bytes are relayed as they come under back-pressure, not held: no budget to take.
        if (core.router.resolve(capability, range).definition.streaming === 'none') {
          throw new CrankError(
            'FAILED_PRECONDITION',
            `capability "${capability}" is not a streaming capability; call /v1/invoke/${capability} instead`,
          );
        }
      } else {
        const length = Number(request.headers['content-length'] ?? 0);
        if (Number.isFinite(length)) core.budget.check(length);
      }
      done();
    } catch (error) {
      if (!(error instanceof CrankError)) {
        done();
        return;
      }
      core.metrics.recordRequest((request.params as { capability?: string }).capability ?? '', error.code, 0);
      void sendError(reply, error);
    }
  });
}

function isStreamRoute(request: FastifyRequest): boolean {
  return (request.method === 'POST' || request.method === 'PUT') && request.routeOptions.url === STREAM_ROUTE;
}

/**
 * Reads a whole body into one Buffer, as Fastify's own `parseAs: 'buffer'` does: 413 past the
 * route's body limit (told by `content-length` before anything is read, or when the bytes pass
 * it), 400 when fewer or more bytes come than `content-length` says.
 */
function readWholeBody(
  request: FastifyRequest,
  payload: Readable & { receivedEncodedLength?: number },
  done: (error: Error | null, body?: Buffer) => void,
): void {
  const limit = request.routeOptions.bodyLimit;
  const declared = Number(request.headers['content-length']);
  if (declared > limit) {
    done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    return;
  }
  const parts: Buffer[] = [];
  let received = 0;
  const cleanup = (): void => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onEnd);
  };
  const onData = (chunk: Buffer | string): void => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    received += bytes.length;
    if (received > limit) {
      cleanup();
      done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    parts.push(bytes);
  };
  const onEnd = (error?: Error & { statusCode?: number }): void => {
    cleanup();
    if (error) {
      if (!(typeof error.statusCode === 'number' && error.statusCode >= 400)) error.statusCode = 400;
      done(error);
    } else if (!Number.isNaN(declared) && (payload.receivedEncodedLength || received) !== declared) {
      done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
    } else {
      done(null, Buffer.concat(parts, received));
    }
  };
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onEnd);
  payload.resume();
}

/**
 * A query parameter given at most once: `?version=a&version=b` is a client mistake (400), not a
 * crash in whatever reads it as a string.
 * @throws CrankError INVALID_INPUT naming the parameter
 */
export function singleQuery(query: unknown, name: string): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.[name];
  if (value === undefined || typeof value === 'string') return value;
  throw new CrankError(
    'INVALID_INPUT',
    `${name}: give it once (got ${Array.isArray(value) ? value.length : 'several'})`,
  );
}

/**
 * The `x-crank-timeout-ms` header as an absolute deadline: a whole number of milliseconds from 1
 * to {@link WIRE_LIMITS.maxDeadlineMs}.
 * @throws CrankError INVALID_INPUT naming the header
 */
export function deadlineFromHeader(raw: string | undefined, now = Date.now()): number | undefined {
  if (raw === undefined) return undefined;
  const ms = /^\d{1,12}$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(ms) || ms < 1 || ms > WIRE_LIMITS.maxDeadlineMs) {
    throw new CrankError(
      'INVALID_INPUT',
      `${HTTP_HEADERS.timeoutMs}: must be a whole number of milliseconds from 1 to ${WIRE_LIMITS.maxDeadlineMs} (got "${raw.slice(0, 40)}")`,
    );
  }
  return now + ms;
}

/** Sends a contract error as the documented JSON body, with `Retry-After` where it helps. */
export function sendError(reply: FastifyReply, error: CrankError): FastifyReply {
  const retryAfter = error.details?.['retryAfterSeconds'];
  if (typeof retryAfter === 'number' && (error.httpStatus === 429 || error.httpStatus === 503)) {
    void reply.header('retry-after', String(retryAfter));
  }
  return reply
    .status(error.httpStatus)
    .header('content-type', 'application/json')
    .send({ error: error.toJSON() });
}

/**
 * Answers what Node's HTTP parser refuses (headers too large, a malformed request line) with the
 * documented JSON error body instead of a bare status line, and never lets it reach the process.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const code: ErrorCode = 'INVALID_INPUT';
  const body = JSON.stringify({
    error: {
      code,
      message: tooLarge ? 'request headers are too large' : 'the request could not be parsed as HTTP',
      details: {},
    },
  });
  socket.end(
    `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** An RFC 9110 token: what a media-type parameter name (and a bare value) may be. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The content type of a raw-bytes call with the request's query parameters (all but `version`)
 * added as media-type parameters, so that options reach the worker with the bytes:
 * `POST /v1/invoke/convert.document?to=text` with `image/png` gives `image/png; to=text`. JSON
 * bodies carry their options in the JSON and are left as they are.
 *
 * @throws CrankError INVALID_INPUT naming a parameter that is repeated, not a token, or also set
 *   in the Content-Type header
 */
export function contentTypeWithQuery(contentType: string, query: unknown, json: boolean): string {
  const entries = Object.entries((query ?? {}) as Record<string, unknown>).filter(
    ([name]) => name !== 'version',
  );
  if (json || entries.length === 0) return contentType;
  const present = new Set(
    contentType
      .split(';')
      .slice(1)
      .map((part) => part.split('=')[0]?.trim().toLowerCase()),
  );
  const parameters = entries.map(([name]) => {
    const value = singleQuery(query, name) ?? '';
    if (!TOKEN.test(name))
      throw new CrankError('INVALID_INPUT', `query: "${name.slice(0, 40)}" is not a parameter name`);
    if (present.has(name.toLowerCase())) {
      throw new CrankError(
        'INVALID_INPUT',
        `${name}: given both in the query and in content-type; give it once`,
      );
    }
    const quoted = TOKEN.test(value) ? value : `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
    return `${name}=${quoted}`;
  });
  return [contentType, ...parameters].join('; ');
}
