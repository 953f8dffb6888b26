import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { CrankError, type ErrorCode } from '@crank/capabilities';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { sendError } from './invoke-edge.js';

const HTTP_CODES: Record<number, ErrorCode> = {
  400: 'INVALID_INPUT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_FORMAT',
  429: 'RESOURCE_EXHAUSTED',
  503: 'UNAVAILABLE',
};

/**
 * Every HTTP error as `{ "error": { "code", "message", "details" } }` with the status of the
 * contract code's mapping, including Nest's own (unknown route, body too large).
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (exception instanceof CrankError) {
      void sendError(reply, exception);
      return;
    }
    let status: number;
    let body: { code: string; message: string; details?: unknown };
    if (exception instanceof HttpException) {
      status = exception.getStatus();
      const response = exception.getResponse();
      const message =
        typeof response === 'string'
          ? response
          : String((response as { message?: unknown }).message ?? exception.message);
      body = {
        code: HTTP_CODES[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_INPUT'),
        message: message.slice(0, 300),
        details: {},
      };
    } else if (isFastifyError(exception)) {
      status = exception.statusCode;
      body = {
        code: HTTP_CODES[status] ?? 'INVALID_INPUT',
        message: exception.message.slice(0, 300),
        details: {},
      };
    } else {
      this.logger.error({ event: 'http_failed', err: exception }, 'unhandled error in HTTP handler');
      status = 500;
      body = { code: 'INTERNAL', message: 'internal error', details: {} };
    }
    void reply.status(status).header('content-type', 'application/json').send({ error: body });
  }
}

function isFastifyError(value: unknown): value is { statusCode: number; message: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { statusCode?: unknown }).statusCode === 'number' &&
    (value as { statusCode: number }).statusCode < 500
  );
}
