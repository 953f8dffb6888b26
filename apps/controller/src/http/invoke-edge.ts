import type { Socket } from 'node:net';
import { CrankError, type ErrorCode } from '@crank/capabilities';
import { HTTP_HEADERS, WIRE_LIMITS } from '@crank/proto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ControllerCore } from '../controller-core.js';

/** Paths of the routes that run calls, as Fastify names them. */
const INVOKE_ROUTE = '/v1/invoke/:capability';

/**
 * The HTTP edge of calls, installed on the Fastify instance before any route runs:
 * - bodies of every media type arrive as raw bytes (JSON is parsed once, by the input check, and
 *   answered byte for byte: no re-encoding, no second copy);
 * - a call is refused before its body is read when it cannot be served now (every slot busy and
 *   the queue full, or the payload budget spent): under overload, refusing costs almost nothing,
 *   so `/health` and `/metrics` stay responsive;
 * - 429 and 503 answers carry `Retry-After`.
 */
export function installInvokeEdge(fastify: FastifyInstance, core: ControllerCore): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    if (request.method !== 'POST' || request.routeOptions.url !== INVOKE_ROUTE) {
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
      const length = Number(request.headers['content-length'] ?? 0);
      if (Number.isFinite(length)) core.budget.check(length);
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
