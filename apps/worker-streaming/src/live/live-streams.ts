import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StreamAggregateOutput } from '@crank/capabilities';
import type { WorkerHttpRoute } from '@crank/worker-runtime';
import { LIVE_PAGE } from './live-page.js';

/** One closed window end, summed over keys: what the live chart draws. */
export interface WindowPoint {
  windowEnd: number;
  count: number;
  keys: number;
}

/** How many points a stream keeps for viewers who join late. */
const KEEP_POINTS = 120;
/** How long a finished stream stays viewable. */
const KEEP_FINISHED_MS = 60_000;
/** An event stream sends a comment this often, so that proxies keep it open. */
const KEEPALIVE_MS = 15_000;

interface LiveStream {
  id: string;
  startedAt: number;
  points: WindowPoint[];
  events: number;
  finished: boolean;
  viewers: Set<ServerResponse>;
}

/**
 * The aggregations running on this worker, watchable from a browser: `GET /streams/` lists them,
 * `GET /streams/:id` is a page that charts the counts of closed windows live, fed by
 * `GET /streams/:id/events` (Server-Sent Events: `window` points, `status`, `end`). A viewer that
 * cannot keep up misses events rather than making the worker buffer them.
 */
export class LiveStreams {
  private readonly streams = new Map<string, LiveStream>();

  /** Starts publishing stream `id`; returns what the aggregation calls with each record. */
  open(id: string): { publish(record: StreamAggregateOutput): void; close(): void } {
    const stream: LiveStream = {
      id,
      startedAt: Date.now(),
      points: [],
      events: 0,
      finished: false,
      viewers: this.streams.get(id)?.viewers ?? new Set(),
    };
    this.streams.set(id, stream);
    return {
      publish: (record) => this.publish(stream, record),
      close: () => {
        stream.finished = true;
        this.send(stream, 'end', { events: stream.events });
        setTimeout(() => {
          if (this.streams.get(id) === stream) this.streams.delete(id);
          for (const viewer of stream.viewers) viewer.end();
        }, KEEP_FINISHED_MS).unref();
      },
    };
  }

  /** The HTTP route of the live view, for the runtime's `httpRoutes`. */
  readonly route: WorkerHttpRoute = {
    prefix: '/streams/',
    handle: (req, res) => this.handle(req, res),
  };

  private publish(stream: LiveStream, record: StreamAggregateOutput): void {
    if (record.type === 'window') {
      let point = stream.points.find((p) => p.windowEnd === record.windowEnd);
      if (!point) {
        point = { windowEnd: record.windowEnd, count: 0, keys: 0 };
        stream.points.push(point);
        stream.points.sort((a, b) => a.windowEnd - b.windowEnd);
        if (stream.points.length > KEEP_POINTS) stream.points.shift();
      }
      point.count += record.count;
      point.keys += 1;
      this.send(stream, 'window', point);
    } else if (record.type === 'heartbeat' || record.type === 'totals') {
      stream.events = record.events;
      this.send(stream, 'status', record);
    }
  }

  private send(stream: LiveStream, event: string, data: unknown): void {
    if (stream.viewers.size === 0) return;
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const viewer of stream.viewers) {
      // A full socket buffer means a slow viewer: skip it this time instead of queueing.
      if (viewer.writableNeedDrain) continue;
      viewer.write(frame);
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const parts = (req.url ?? '/').split('?')[0]?.split('/').filter(Boolean) ?? [];
    const id = parts[1] ? decodeURIComponent(parts[1]) : undefined;
    if (!id) {
      json(res, 200, {
        streams: [...this.streams.values()].map((s) => ({
          id: s.id,
          startedAt: new Date(s.startedAt).toISOString(),
          events: s.events,
          finished: s.finished,
          viewers: s.viewers.size,
        })),
      });
      return;
    }
    if (parts.length === 2) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(LIVE_PAGE);
      return;
    }
    if (parts.length !== 3 || parts[2] !== 'events') {
      json(res, 404, { error: { code: 'NOT_FOUND', message: 'try /streams/:id or /streams/:id/events' } });
      return;
    }
    // A viewer may connect before the stream starts: it waits for it.
    let stream = this.streams.get(id);
    if (!stream) {
      stream = { id, startedAt: Date.now(), points: [], events: 0, finished: false, viewers: new Set() };
      this.streams.set(id, stream);
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.write(
      `event: history\ndata: ${JSON.stringify({ id, points: stream.points, events: stream.events })}\n\n`,
    );
    const viewers = stream.viewers;
    viewers.add(res);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    res.on('close', () => {
      clearInterval(keepalive);
      viewers.delete(res);
    });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
