import {
  Body,
  Controller,
  Delete,
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
import {
  ApiBody,
  ApiHeader,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CONTROLLER_CORE, type ControllerCore } from '../controller-core.js';
import { JOB_STATES } from '../jobs/job-state.js';
import { JobEventStreams } from './job-events-sse.js';
import { httpCaller } from './http-access.js';
import { jobJson, type JobJson } from './job-json.js';
import {
  ERROR_SCHEMA,
  JOB_PAGE_SCHEMA,
  JOB_SCHEMA,
  METRICS_SUMMARY_SCHEMA,
  SUBMIT_JOB_SCHEMA,
} from './job-openapi.js';
import { JOB_SORTS, parseListQuery, parseSubmit, parseWatchQuery, wholeNumber } from './job-request.js';
import { singleQuery } from './invoke-edge.js';
import { currentLoad, metricsSummaryJson, type MetricsSummaryJson } from './metrics-summary.js';

/** Longest window `GET /v1/metrics/summary?windowMs=` takes (a week). */
const MAX_SUMMARY_WINDOW_MS = 7 * 86_400_000;

const errorResponse = (status: number, description: string): MethodDecorator =>
  ApiResponse({ status, description, schema: ERROR_SCHEMA });

/**
 * The HTTP face of durable jobs, with the semantics of the gRPC job calls: submit, read, cancel,
 * retry, list, watch (Server-Sent Events), and the jobs' summary.
 */
@ApiTags('jobs')
@Controller('v1')
export class JobsController {
  constructor(
    @Inject(CONTROLLER_CORE) private readonly core: ControllerCore,
    @Inject(JobEventStreams) private readonly streams: JobEventStreams,
  ) {}

  @Post('jobs')
  @ApiOperation({
    summary: 'Submit a job: 201 with the job, or 200 with the earlier one when the idempotency key was used',
    description:
      'JSON body { capability, input, ... }; or, with ?capability=, the body is the input (of its ' +
      'content-type) and the other settings are query parameters.',
  })
  @ApiBody({ schema: SUBMIT_JOB_SCHEMA })
  @ApiQuery({ name: 'capability', required: false, description: 'raw form: the body is the input' })
  @ApiResponse({ status: 201, description: 'created', schema: JOB_SCHEMA })
  @ApiResponse({
    status: 200,
    description: 'the job first submitted with this idempotency key',
    schema: JOB_SCHEMA,
  })
  @errorResponse(400, 'INVALID_INPUT naming the field')
  @errorResponse(404, 'NOT_FOUND: no such capability')
  @errorResponse(415, 'UNSUPPORTED_FORMAT: a media type the capability does not take')
  async submit(
    @Query() query: unknown,
    @Headers('content-type') contentType: string | undefined,
    @Body() body: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const request = parseSubmit(body, contentType, query);
    const { job, created } = await this.core.jobs.submit(request, httpCaller(reply.request.raw));
    void reply.status(created ? 201 : 200).send(jobJson(job));
  }

  @Get('jobs')
  @ApiOperation({ summary: 'List jobs, newest first by default; page with nextCursor' })
  @ApiQuery({ name: 'status', required: false, description: `comma-separated: ${JOB_STATES.join(', ')}` })
  @ApiQuery({ name: 'capability', required: false })
  @ApiQuery({ name: 'priorityMin', required: false, description: '0 to 10' })
  @ApiQuery({ name: 'priorityMax', required: false, description: '0 to 10' })
  @ApiQuery({ name: 'from', required: false, description: 'created at or after: ISO 8601 or epoch ms' })
  @ApiQuery({ name: 'to', required: false, description: 'created before: ISO 8601 or epoch ms' })
  @ApiQuery({ name: 'limit', required: false, description: '1 to 500, default 50' })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page' })
  @ApiQuery({ name: 'sort', required: false, enum: [...JOB_SORTS] })
  @ApiResponse({ status: 200, description: '{ jobs, nextCursor }', schema: JOB_PAGE_SCHEMA })
  @errorResponse(400, 'INVALID_INPUT naming the parameter')
  async list(@Query() query: unknown): Promise<{ jobs: JobJson[]; nextCursor: string | null }> {
    const page = await this.core.jobs.list(parseListQuery(query));
    return { jobs: page.jobs.map((job) => jobJson(job)), nextCursor: page.nextCursor ?? null };
  }

  @Get('jobs/events')
  @ApiOperation({
    summary: 'Job events as Server-Sent Events (event: job, data: { event, job }); resume with Last-Event-ID',
  })
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'capability', required: false })
  @ApiQuery({ name: 'id', required: false, description: 'comma-separated job ids' })
  @ApiQuery({ name: 'after', required: false, description: 'resume after this event id' })
  @ApiHeader({ name: 'last-event-id', required: false, description: 'resume after this event id' })
  @ApiResponse({ status: 200, description: 'text/event-stream; a comment line every 15 s' })
  @errorResponse(400, 'INVALID_INPUT naming the parameter')
  async events(
    @Query() query: unknown,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const filter = parseWatchQuery(query, lastEventId);
    await this.streams.serve(reply, this.core.jobs, filter, this.core.logger);
  }

  @Get('jobs/:id')
  @ApiOperation({ summary: 'A job with its timeline' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiResponse({ status: 200, description: 'the job', schema: JOB_SCHEMA })
  @errorResponse(404, 'NOT_FOUND')
  async get(@Param('id') id: string): Promise<JobJson> {
    const { job, timeline } = await this.core.jobs.get(id);
    return jobJson(job, timeline);
  }

  @Delete('jobs/:id')
  @ApiOperation({
    summary: 'Cancel a job: a pending one at once, a running one as soon as its attempt is aborted',
    description: 'A finished job is answered as it is.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiResponse({ status: 200, description: 'the job after the request', schema: JOB_SCHEMA })
  @errorResponse(404, 'NOT_FOUND')
  async cancel(@Param('id') id: string, @Req() request: FastifyRequest): Promise<JobJson> {
    const job = await this.core.jobs.cancel(id);
    this.core.logger.info(
      { event: 'job_cancel_requested', jobId: job.id, state: job.state, by: httpCaller(request.raw) },
      'job cancel requested',
    );
    return jobJson(job);
  }

  @Post('jobs/:id/retry')
  @HttpCode(200)
  @ApiOperation({ summary: 'Put a failed or dead-lettered job back to pending for a new round of attempts' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiResponse({ status: 200, description: 'the job, pending again', schema: JOB_SCHEMA })
  @errorResponse(404, 'NOT_FOUND')
  @errorResponse(409, 'FAILED_PRECONDITION: the job is neither failed nor dead_letter')
  async retry(@Param('id') id: string, @Req() request: FastifyRequest): Promise<JobJson> {
    const job = await this.core.jobs.retry(id);
    this.core.logger.info(
      { event: 'job_retry_requested', jobId: job.id, by: httpCaller(request.raw) },
      'job retry requested',
    );
    return jobJson(job);
  }

  @Get('metrics/summary')
  @ApiOperation({
    summary: 'Jobs by state, success rate, queue wait and processing percentiles, queue depth, load',
  })
  @ApiQuery({ name: 'windowMs', required: false, description: 'window of the rates, default 15 min' })
  @ApiResponse({ status: 200, description: 'the summary', schema: METRICS_SUMMARY_SCHEMA })
  async summary(@Query() query: unknown): Promise<MetricsSummaryJson> {
    const raw = singleQuery(query, 'windowMs');
    const windowMs = raw ? wholeNumber('windowMs', raw, 1_000, MAX_SUMMARY_WINDOW_MS) : undefined;
    const summary = await this.core.jobs.summary(windowMs);
    return metricsSummaryJson(summary, currentLoad(this.core.registry.list()), Date.now());
  }
}
