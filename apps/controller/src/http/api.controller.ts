import { randomUUID } from 'node:crypto';
import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CrankError } from '@crank/capabilities';
import { HTTP_HEADERS, Payload, WIRE_LIMITS, echo, streamingModeFromWire } from '@crank/proto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CONTROLLER_CORE, type ControllerCore } from '../controller-core.js';
import { summarizeCapabilities } from '../grpc/controller-service.js';
import { workerState } from '../registry/worker-record.js';
import { JSON_CONTENT_TYPE, isJson } from '../invoke/payloads.js';
import { httpCaller } from './http-access.js';
import { contentTypeWithQuery, deadlineFromHeader, singleQuery } from './invoke-edge.js';
import { recentCallsJson, workerJson, type RecentCallJson, type WorkerJson } from './worker-json.js';

/** The HTTP face of the registry and of routing. */
@ApiTags('v1')
@Controller('v1')
export class ApiController {
  constructor(@Inject(CONTROLLER_CORE) private readonly core: ControllerCore) {}

  @Get('capabilities')
  @ApiOperation({ summary: 'Capabilities offered now, each version with its live worker count' })
  capabilities(): unknown {
    return {
      capabilities: summarizeCapabilities(this.core.registry).map((c) => ({
        id: c.id,
        version: c.version,
        description: c.description,
        liveWorkers: c.liveWorkers,
        streaming: streamingModeFromWire(c.streaming),
        inputMediaTypes: c.inputMediaTypes,
        inputSchema: JSON.parse(c.inputSchemaJson) as unknown,
        outputSchema: JSON.parse(c.outputSchemaJson) as unknown,
      })),
    };
  }

  @Get('workers')
  @ApiOperation({
    summary: 'Workers: state, capabilities, in-flight and slots, latency, last heartbeat, certificate expiry',
    description: 'Live workers first, then the ones gone in the last ten minutes (state "gone").',
  })
  workers(): { workers: WorkerJson[] } {
    const { registry, router } = this.core;
    return {
      workers: [
        ...registry.list().map((w) => workerJson(w, workerState(w, router.outOfRotation(w.id)), router)),
        ...registry.departedWorkers().map(({ worker }) => workerJson(worker, 'gone', router)),
      ],
    };
  }

  @Get('workers/:id')
  @ApiOperation({ summary: 'One worker, with its last 50 calls (newest first)' })
  @ApiParam({ name: 'id' })
  worker(@Param('id') id: string): WorkerJson & { recentCalls: RecentCallJson[] } {
    const { registry, router } = this.core;
    const live = registry.get(id);
    const departed = live ? undefined : registry.departedWorkers().find(({ worker }) => worker.id === id);
    const record = live ?? departed?.worker;
    if (!record) {
      throw new CrankError('NOT_FOUND', `worker "${echo(id)}" is not known to this controller`, {
        details: { workerId: echo(id) },
      });
    }
    const state = live ? workerState(live, router.outOfRotation(id)) : 'gone';
    return { ...workerJson(record, state, router), recentCalls: recentCallsJson(record.ledger.recent) };
  }

  @Post('workers/:id/drain')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Drain a worker: no new calls from now on; it finishes its calls, deregisters and exits',
    description:
      'The worker is told in its next heartbeat answer. Needs the admin scope when HTTP auth is on; ' +
      'logged with the caller.',
  })
  @ApiParam({ name: 'id' })
  drain(@Param('id') id: string, @Req() request: FastifyRequest): WorkerJson {
    const { registry, router } = this.core;
    const worker = registry.requestDrain(id, httpCaller(request.raw));
    return workerJson(worker, workerState(worker, router.outOfRotation(id)), router);
  }

  @Post('invoke/:capability')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Call a capability: JSON in, JSON out; header x-crank-worker names the worker that served it',
  })
  @ApiParam({ name: 'capability', example: 'debug.echo' })
  @ApiQuery({ name: 'version', required: false, description: 'semver range, e.g. ^1.0.0' })
  @ApiQuery({
    name: 'options',
    required: false,
    description:
      'with a raw (non-JSON) body, any other query parameter reaches the worker as a media-type ' +
      'parameter: ?to=text with image/png is image/png; to=text',
  })
  @ApiHeader({
    name: HTTP_HEADERS.timeoutMs,
    required: false,
    description: `deadline of the call in ms, 1 to ${WIRE_LIMITS.maxDeadlineMs}`,
  })
  @ApiBody({ schema: { type: 'object', example: { message: 'hi' } } })
  async invoke(
    @Param('capability') capability: string,
    @Query() query: unknown,
    @Headers('content-type') contentType: string | undefined,
    @Headers(HTTP_HEADERS.timeoutMs) timeoutMs: string | undefined,
    @Headers(HTTP_HEADERS.requestId) requestId: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer> {
    const deadlineMs = deadlineFromHeader(timeoutMs);
    const range = singleQuery(query, 'version') ?? '';
    const type = contentType?.trim() || JSON_CONTENT_TYPE;
    const abort = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) abort.abort();
    });
    const result = await this.core.invocations.invoke({
      capability,
      range,
      input: Payload.fromPartial({
        contentType: contentTypeWithQuery(type, query, isJson(type)),
        data: Buffer.isBuffer(body) ? body : Buffer.alloc(0),
      }),
      requestId: requestId ?? randomUUID(),
      caller: httpCaller(reply.request.raw),
      deadlineMs,
      signal: abort.signal,
    });
    const output = result.output;
    // The worker's bytes go out as they came (the output check has parsed them already).
    void reply
      .header(HTTP_HEADERS.worker, result.workerId)
      .header(HTTP_HEADERS.version, result.version)
      .header('content-type', isJson(output.contentType) ? JSON_CONTENT_TYPE : output.contentType);
    return Buffer.from(output.data.buffer, output.data.byteOffset, output.data.byteLength);
  }
}
