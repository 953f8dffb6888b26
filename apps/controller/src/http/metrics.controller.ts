import { setTimeout as sleep } from 'node:timers/promises';
import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CONTROLLER_CORE, type ControllerCore } from '../controller-core.js';
import type { RateBucket } from '../metrics/request-rates.js';
import { JobEventStreams, sseFrame } from './job-events-sse.js';

/** How often `GET /v1/metrics/events` sends the rates. */
export const RATES_EVENT_MS = 2_000;

/** The body of `GET /v1/metrics/rates`, and the data of each `rates` event. */
export interface RatesJson {
  at: string;
  bucketMs: number;
  windowMs: number;
  /** Oldest first; the last one is still filling. */
  buckets: RateBucket[];
}

/** Calls and errors over the last 15 minutes, as JSON and as a live event stream. */
@ApiTags('v1')
@Controller('v1')
export class MetricsController {
  constructor(
    @Inject(CONTROLLER_CORE) private readonly core: ControllerCore,
    private readonly streams: JobEventStreams,
  ) {}

  @Get('metrics/rates')
  @ApiOperation({ summary: 'Calls and failed calls per 5 s over the last 15 minutes' })
  rates(): RatesJson {
    return this.ratesJson();
  }

  @Get('metrics/events')
  @ApiOperation({
    summary: `The rates as Server-Sent Events: an event "rates" (the body of /v1/metrics/rates) every ${RATES_EVENT_MS / 1000} s`,
  })
  @ApiProduces('text/event-stream')
  @ApiResponse({ status: 200, description: 'text/event-stream' })
  async events(@Res() reply: FastifyReply): Promise<void> {
    const rates = (): RatesJson => this.ratesJson();
    let id = 0;
    async function* frames(signal: AbortSignal): AsyncGenerator<string> {
      while (!signal.aborted) {
        yield sseFrame(++id, 'rates', JSON.stringify(rates()));
        await sleep(RATES_EVENT_MS, undefined, { signal }).catch(() => undefined);
      }
    }
    await this.streams.stream(reply, frames, this.core.logger, 'metrics_events_failed');
  }

  private ratesJson(): RatesJson {
    const { rates } = this.core.metrics;
    return {
      at: new Date().toISOString(),
      bucketMs: rates.bucketMs,
      windowMs: rates.windowMs,
      buckets: rates.buckets(),
    };
  }
}
