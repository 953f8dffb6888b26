import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Controller, Headers, Inject, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import {
  ApiConsumes,
  ApiHeader,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { HTTP_HEADERS, WIRE_LIMITS } from '@crank/proto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CONTROLLER_CORE, type ControllerCore } from '../controller-core.js';
import { httpCaller } from './http-access.js';
import { HttpStreamCaller, NDJSON } from './http-stream-caller.js';
import { deadlineFromHeader, singleQuery } from './invoke-edge.js';
import { ERROR_SCHEMA } from './job-openapi.js';
import { NDJSON_TYPES, streamInputOf } from './stream-body.js';

const DESCRIPTION =
  'Streams a request body to a streaming capability and answers its records as they come, one ' +
  'JSON per line (application/x-ndjson). The body is read as the worker takes it (never buffered, ' +
  'no size limit): raw bytes of its content-type become byte chunks (`curl -T big.mbox ' +
  '.../v1/stream/parse.mbox`; without a content-type, the first raw type the capability takes), ' +
  `NDJSON (${NDJSON_TYPES.join(', ')}) becomes one JSON record per line, and an application/json ` +
  'body is one record. Byte records of the worker come as { contentType, bytes, base64 }. Before a ' +
  'worker accepts, a failure is the usual error answer with its status; after, the body ends with ' +
  'one { "error": { code, message, details } } line. Headers x-crank-worker and x-crank-version ' +
  'name who serves it. PUT does the same (curl -T sends PUT).';

const errorResponse = (status: number, description: string): MethodDecorator =>
  ApiResponse({ status, description, schema: ERROR_SCHEMA });

/** `POST /v1/stream/:capability`: any streaming capability over HTTP, on the same relay as gRPC. */
@ApiTags('v1')
@Controller('v1')
export class StreamController {
  constructor(@Inject(CONTROLLER_CORE) private readonly core: ControllerCore) {}

  @Post('stream/:capability')
  @ApiOperation({
    summary: 'Stream a body to a streaming capability; NDJSON records back as they come',
    description: DESCRIPTION,
  })
  @ApiParam({ name: 'capability', example: 'parse.mbox' })
  @ApiQuery({ name: 'version', required: false, description: 'semver range, e.g. ^2' })
  @ApiHeader({
    name: HTTP_HEADERS.timeoutMs,
    required: false,
    description: `deadline of the whole stream in ms, 1 to ${WIRE_LIMITS.maxDeadlineMs}`,
  })
  @ApiConsumes('application/octet-stream', 'application/mbox', NDJSON, 'application/json')
  @ApiProduces(NDJSON)
  @ApiResponse({
    status: 200,
    description: 'one JSON record per line; a failure mid-stream is a last { "error": ... } line',
  })
  @errorResponse(400, 'INVALID_INPUT: a bad header or query parameter')
  @errorResponse(404, 'NOT_FOUND: no such capability, or no version in the range')
  @errorResponse(409, 'FAILED_PRECONDITION: the capability does not stream (use /v1/invoke)')
  @errorResponse(415, 'UNSUPPORTED_FORMAT: a content-type the capability does not take')
  @errorResponse(429, 'RESOURCE_EXHAUSTED: every worker busy and the queue full (Retry-After)')
  @errorResponse(503, 'UNAVAILABLE: no worker offers it now (Retry-After)')
  async stream(
    @Param('capability') capability: string,
    @Query() query: unknown,
    @Headers('content-type') contentType: string | undefined,
    @Headers(HTTP_HEADERS.timeoutMs) timeoutMs: string | undefined,
    @Headers(HTTP_HEADERS.requestId) requestId: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const deadlineMs = deadlineFromHeader(timeoutMs);
    const range = singleQuery(query, 'version') ?? '';
    const input = streamInputOf(contentType, this.core.router.resolve(capability, range));
    const caller = new HttpStreamCaller({
      open: {
        capability,
        version: range,
        contentType: input.contentType,
        requestId: requestId ?? randomUUID(),
      },
      deadlineMs,
      body: request.body as Readable | undefined,
      input,
      maxRecordBytes: WIRE_LIMITS.maxMessageBytes,
      response: reply.raw,
      // From here on the route writes the response itself, record by record.
      onAccepted: () => void reply.hijack(),
    });
    this.core.streams.handle(caller, httpCaller(request.raw));
    try {
      await caller.accepted;
    } catch (error) {
      if (reply.raw.destroyed) return; // the client went away: nobody to answer
      throw error;
    }
    await caller.done;
  }

  @Put('stream/:capability')
  @ApiOperation({ summary: 'The same as POST, for clients that upload with PUT (curl -T)' })
  @ApiParam({ name: 'capability', example: 'parse.mbox' })
  @ApiConsumes('application/octet-stream', 'application/mbox', NDJSON, 'application/json')
  @ApiProduces(NDJSON)
  streamPut(
    @Param('capability') capability: string,
    @Query() query: unknown,
    @Headers('content-type') contentType: string | undefined,
    @Headers(HTTP_HEADERS.timeoutMs) timeoutMs: string | undefined,
    @Headers(HTTP_HEADERS.requestId) requestId: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    return this.stream(capability, query, contentType, timeoutMs, requestId, request, reply);
  }
}
