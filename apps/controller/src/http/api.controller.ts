import { randomUUID } from 'node:crypto';
import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CrankError } from '@crank/capabilities';
import { Payload } from '@crank/proto';
import type { FastifyReply } from 'fastify';
import { CONTROLLER_CORE, type ControllerCore } from '../controller-core.js';
import { summarizeCapabilities, summarizeWorkers } from '../grpc/controller-service.js';
import { JSON_CONTENT_TYPE, isJson } from '../invoke/payloads.js';

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
        streaming: ['unspecified', 'none', 'input', 'output', 'bidi'][c.streaming] ?? 'none',
        inputSchema: JSON.parse(c.inputSchemaJson) as unknown,
        outputSchema: JSON.parse(c.outputSchemaJson) as unknown,
      })),
    };
  }

  @Get('workers')
  @ApiOperation({ summary: 'Registered workers: capabilities, state, in-flight calls, last heartbeat' })
  workers(): unknown {
    return {
      workers: summarizeWorkers(this.core.registry, this.core.router).map((w) => ({
        id: w.workerId,
        address: w.address,
        state: w.state,
        gpu: w.gpu,
        inFlight: w.inFlight,
        completed: w.completed,
        lastHeartbeat: new Date(w.lastHeartbeatUnixMs).toISOString(),
        capabilities: w.capabilities,
      })),
    };
  }

  @Post('invoke/:capability')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Call a capability: JSON in, JSON out; header x-crank-worker names the worker that served it',
  })
  @ApiParam({ name: 'capability', example: 'debug.echo' })
  @ApiQuery({ name: 'version', required: false, description: 'semver range, e.g. ^1.0.0' })
  @ApiHeader({ name: 'x-crank-timeout-ms', required: false, description: 'deadline for the call' })
  @ApiBody({ schema: { type: 'object', example: { message: 'hi' } } })
  async invoke(
    @Param('capability') capability: string,
    @Query('version') version: string | undefined,
    @Headers('content-type') contentType: string | undefined,
    @Headers('x-crank-timeout-ms') timeoutMs: string | undefined,
    @Headers('x-request-id') requestId: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<unknown> {
    const timeout = timeoutMs === undefined ? undefined : Number(timeoutMs);
    if (timeout !== undefined && (!Number.isFinite(timeout) || timeout <= 0)) {
      throw new CrankError(
        'INVALID_INPUT',
        `x-crank-timeout-ms: must be a positive number (got "${timeoutMs}")`,
      );
    }
    const type = contentType?.split(';')[0]?.trim() || JSON_CONTENT_TYPE;
    const data = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body ?? null));
    const abort = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) abort.abort();
    });
    const result = await this.core.invocations.invoke({
      capability,
      range: version ?? '',
      input: Payload.fromPartial({ contentType: type, data }),
      requestId: requestId ?? randomUUID(),
      caller: 'http',
      deadlineMs: timeout === undefined ? undefined : Date.now() + timeout,
      signal: abort.signal,
    });
    void reply.header('x-crank-worker', result.workerId).header('x-crank-version', result.version);
    const output = Buffer.from(result.output.data);
    if (isJson(result.output.contentType)) return JSON.parse(output.toString('utf8')) as unknown;
    void reply.header('content-type', result.output.contentType);
    return output;
  }
}
