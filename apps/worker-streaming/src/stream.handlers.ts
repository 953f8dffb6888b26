import { Inject, Injectable } from '@nestjs/common';
import {
  STREAM_AGGREGATE,
  STREAM_CLASSIFY,
  type StreamAggregateInput,
  type StreamAggregateOutput,
  type StreamClassifyInput,
  type StreamClassifyOutput,
} from '@crank/capabilities';
import type { HandlerContext } from '@crank/worker-runtime';
import { CapabilityHandler } from '@crank/worker-runtime/nest';
import { Counter, type Registry } from 'prom-client';
import { aggregateStream } from './aggregation/aggregate-stream.js';
import { classifyStream, type Verdict } from './classification/classify-stream.js';
import { byteFormatOf } from './input-items.js';
import { LiveStreams } from './live/live-streams.js';
import { streamingOptions } from './streaming-options.js';

const CLOSED_EARLY = 'crank_stream_windows_closed_early_total';

/** The counter of windows closed before their time, on the worker's registry (made once). */
function closedEarlyCounter(registry: Registry): Counter {
  return (
    (registry.getSingleMetric(CLOSED_EARLY) as Counter | undefined) ??
    new Counter({
      name: CLOSED_EARLY,
      help: 'Windows closed before the watermark reached them, because a stream hit its cap on open windows.',
      registers: [registry],
    })
  );
}

/**
 * `stream.aggregate` (event-time windows; the logic is in ./aggregation) and `stream.classify`
 * (each event's text through a classifier capability, called through the controller).
 */
@Injectable()
export class StreamHandlers {
  private readonly options = streamingOptions();

  constructor(@Inject(LiveStreams) private readonly live: LiveStreams) {}

  @CapabilityHandler(STREAM_AGGREGATE)
  aggregate(
    records: AsyncIterable<StreamAggregateInput | Buffer>,
    ctx: HandlerContext,
  ): AsyncIterable<StreamAggregateOutput> {
    const counter = closedEarlyCounter(ctx.metrics);
    return aggregateStream(records, {
      ...this.options,
      byteFormat: byteFormatOf(ctx.contentType),
      onClosedEarly: (n) => counter.inc(n),
      observe: (query) => this.live.open(query.id ?? ctx.requestId),
    });
  }

  @CapabilityHandler(STREAM_CLASSIFY)
  classify(
    records: AsyncIterable<StreamClassifyInput | Buffer>,
    ctx: HandlerContext,
  ): AsyncIterable<StreamClassifyOutput> {
    return classifyStream(
      records,
      async (classifier, text): Promise<Verdict> => {
        const call =
          classifier === 'sentiment'
            ? ctx.client.invoke<Verdict>('classify.sentiment', { text }, { signal: ctx.signal })
            : ctx.client.invoke<Verdict>('classify.email', { body: text }, { signal: ctx.signal });
        const { output } = await call;
        return { label: output.label, score: output.score };
      },
      byteFormatOf(ctx.contentType),
    );
  }
}
