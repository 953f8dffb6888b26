import type { ServerResponse } from 'node:http';
import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { CrankError } from '@crank/capabilities';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { JobService, WatchFilter } from '../jobs/job-service.js';
import { jobEventJson, jobJson } from './job-json.js';

/** How often an idle stream sends a comment line, so that proxies and clients see it alive. */
export const SSE_HEARTBEAT_MS = 15_000;

/** The headers of an event stream: no caching, and no buffering by proxies (nginx). */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
});

/** One Server-Sent Events frame. `data` must hold no line break (JSON.stringify's output holds none). */
export function sseFrame(id: number, event: string, data: string): string {
  return `id: ${id}\nevent: ${event}\ndata: ${data}\n\n`;
}

/** An SSE comment line: ignored by clients, it keeps the connection visibly alive. */
export function sseComment(text: string): string {
  return `: ${text}\n\n`;
}

/**
 * The open event streams (`GET /v1/jobs/events`, `GET /v1/metrics/events`), written straight to
 * the socket, outside Nest's response handling. Each stream ends when its client goes away, when
 * its source fails, or when the HTTP application shuts down: Nest calls {@link beforeApplicationShutdown} before it
 * closes the server, so that open streams never hold `ControllerApp.close()` for its grace.
 */
@Injectable()
export class JobEventStreams implements BeforeApplicationShutdown {
  /** One entry per open stream: aborting it ends the stream; the promise settles once it has. */
  private readonly open = new Map<AbortController, Promise<void>>();
  /** Set at shutdown: new streams are refused from then on. */
  private closed = false;

  /** Streams open now. */
  get size(): number {
    return this.open.size;
  }

  /**
   * Streams `jobs.watch(filter)` to the client as `event: job` frames whose `id` is the event id
   * (resume with `Last-Event-ID`), with a comment line every `heartbeatMs`. Events written after
   * the response headers are sent are never missed: the starting point is read before.
   * Resolves when the stream has ended.
   *
   * @throws CrankError UNAVAILABLE once shutdown has begun (before anything is sent)
   */
  async serve(
    reply: FastifyReply,
    jobs: Pick<JobService, 'watch' | 'lastEventId'>,
    filter: WatchFilter,
    logger: Logger,
    heartbeatMs = SSE_HEARTBEAT_MS,
  ): Promise<void> {
    if (this.closed) throw new CrankError('UNAVAILABLE', 'the controller is shutting down');
    const afterEventId = filter.afterEventId ?? (await jobs.lastEventId());
    async function* frames(signal: AbortSignal): AsyncGenerator<string> {
      yield sseComment(`watching events after ${afterEventId}`);
      for await (const { event, job } of jobs.watch({ ...filter, afterEventId }, signal)) {
        yield sseFrame(event.id, 'job', JSON.stringify({ event: jobEventJson(event), job: jobJson(job) }));
      }
    }
    await this.stream(reply, frames, logger, 'job_events_failed', heartbeatMs);
  }

  /**
   * Writes the frames `produce` yields as an event stream, with a comment line every
   * `heartbeatMs`, until the client goes away, `produce` ends or fails, or shutdown. Resolves when
   * the stream has ended.
   *
   * @throws CrankError UNAVAILABLE once shutdown has begun (before anything is sent)
   */
  async stream(
    reply: FastifyReply,
    produce: (signal: AbortSignal) => AsyncIterable<string>,
    logger: Logger,
    failureEvent: string,
    heartbeatMs = SSE_HEARTBEAT_MS,
  ): Promise<void> {
    if (this.closed) throw new CrankError('UNAVAILABLE', 'the controller is shutting down');
    const abort = new AbortController();
    let ended!: () => void;
    this.open.set(abort, new Promise<void>((resolve) => (ended = resolve)));
    const res = reply.hijack().raw;
    const heartbeat = setInterval(() => {
      if (writable(res)) res.write(sseComment('heartbeat'));
    }, heartbeatMs);
    heartbeat.unref();
    res.on('close', () => abort.abort());
    try {
      res.writeHead(200, SSE_HEADERS);
      res.flushHeaders();
      for await (const frame of produce(abort.signal)) {
        if (!res.write(frame)) await drained(res, abort.signal);
      }
    } catch (error) {
      if (!abort.signal.aborted) {
        logger.error({ event: failureEvent, err: error }, 'event stream failed');
      }
    } finally {
      clearInterval(heartbeat);
      abort.abort();
      await endResponse(res);
      this.open.delete(abort);
      ended();
    }
  }

  /** Ends every open stream and refuses new ones; resolves once they have ended. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    const streams = [...this.open];
    for (const [abort] of streams) abort.abort();
    await Promise.all(streams.map(([, done]) => done));
  }
}

function writable(res: ServerResponse): boolean {
  return !res.writableEnded && !res.destroyed;
}

/** Ends the response; resolves once it is sent or its connection is gone. */
function endResponse(res: ServerResponse): Promise<void> {
  if (!writable(res)) return Promise.resolve();
  return new Promise((resolve) => {
    res.once('finish', resolve);
    res.once('close', resolve);
    res.end();
  });
}

/** Resolves when `res` can take more, or when `signal` aborts (the client left, or shutdown). */
function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
