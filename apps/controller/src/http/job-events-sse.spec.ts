import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { FastifyReply } from 'fastify';
import { pino, type Logger } from 'pino';
import type { WatchFilter } from '../jobs/job-service.js';
import type { JobEventRecord, JobRecord } from '../jobs/job-store.js';
import { JobEventStreams, sseComment, sseFrame } from './job-events-sse.js';

const JOB_ID = '01900000-0000-7000-8000-000000000001';

const event = (id: number): JobEventRecord => ({
  id,
  jobId: JOB_ID,
  at: 0,
  kind: 'state',
  from: undefined,
  to: 'pending',
  workerId: '',
  attempt: 0,
  errorCode: '',
  errorMessage: '',
  progress: 0,
  message: '',
});

const job: JobRecord = {
  id: JOB_ID,
  capability: 'debug.echo',
  range: '',
  state: 'pending',
  priority: 5,
  attempts: 0,
  maxAttempts: 3,
  timeoutMs: 1_000,
  backoffMs: 1_000,
  runAt: 0,
  input: { contentType: 'application/json', data: Buffer.from('{}') },
  output: undefined,
  error: undefined,
  progress: 0,
  progressMessage: '',
  workerId: '',
  caller: 'http',
  idempotencyKey: '',
  cancelRequested: false,
  leaseToken: '',
  leaseExpiresAt: 0,
  createdAt: 0,
  updatedAt: 0,
  startedAt: undefined,
  finishedAt: undefined,
};

/**
 * Jobs whose watch yields the events pushed with `push()`, then waits for more until its signal
 * aborts; it records the filters it was asked for and whether each watch has ended.
 */
class FakeJobs {
  readonly filters: WatchFilter[] = [];
  watching = 0;
  private pending: JobEventRecord[] = [];
  private wake: (() => void) | undefined;

  constructor(private readonly newest = 0) {}

  lastEventId(): Promise<number> {
    return Promise.resolve(this.newest);
  }

  push(...events: JobEventRecord[]): void {
    this.pending.push(...events);
    this.wake?.();
  }

  async *watch(
    filter: WatchFilter,
    signal: AbortSignal,
  ): AsyncGenerator<{ event: JobEventRecord; job: JobRecord }> {
    this.filters.push(filter);
    this.watching += 1;
    try {
      while (!signal.aborted) {
        const next = this.pending.shift();
        if (next) {
          yield { event: next, job };
          continue;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    } finally {
      this.watching -= 1;
    }
  }
}

/** What a client of one stream has received. */
interface Received {
  response: IncomingMessage;
  text: string;
  ended: boolean;
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > 10_000) throw new Error(`${what}: not met within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('sseFrame and sseComment', () => {
  it('write one event per block, and comments as lines that start with a colon', () => {
    expect(sseFrame(7, 'job', '{"a":1}')).toBe('id: 7\nevent: job\ndata: {"a":1}\n\n');
    expect(sseComment('heartbeat')).toBe(': heartbeat\n\n');
  });
});

describe('JobEventStreams', () => {
  let server: Server | undefined;
  const served: Promise<unknown>[] = [];

  afterEach(async () => {
    server?.closeAllConnections();
    server?.close();
    await Promise.allSettled(served);
  });

  /** A real HTTP server whose every request is served by `streams` with `jobs`. */
  async function serveWith(
    streams: JobEventStreams,
    jobs: FakeJobs,
    filter: WatchFilter,
    heartbeatMs = 60_000,
    logger: Logger = pino({ level: 'silent' }),
  ): Promise<Received> {
    server = createServer((_req, res: ServerResponse) => {
      const reply = { hijack: () => ({ raw: res }) } as unknown as FastifyReply;
      served.push(streams.serve(reply, jobs, filter, logger, heartbeatMs));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false });
    req.end();
    const [response] = (await once(req, 'response')) as [IncomingMessage];
    const received: Received = { response, text: '', ended: false };
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (received.text += chunk));
    response.on('close', () => (received.ended = true));
    return received;
  }

  it('sends the headers at once, then each event as a frame, from the newest event id on', async () => {
    const jobs = new FakeJobs(40);
    const streams = new JobEventStreams();
    const client = await serveWith(streams, jobs, { capability: 'debug.echo' });
    expect(client.response.headers).toMatchObject({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    await eventually(() => client.text.includes(': watching events after 40'), 'the opening comment');
    expect(jobs.filters).toEqual([{ capability: 'debug.echo', afterEventId: 40 }]);

    jobs.push(event(41), event(42));
    await eventually(() => client.text.includes('id: 42'), 'two frames');
    const frames = client.text.split('\n\n').filter((block) => block.startsWith('id:'));
    expect(frames).toHaveLength(2);
    expect(frames[0]).toMatch(/^id: 41\nevent: job\ndata: \{"event":\{"id":41,"kind":"state","from":null,/);
    expect(JSON.parse(frames[0]?.split('data: ')[1] ?? '')).toMatchObject({ job: { id: JOB_ID, input: {} } });
  });

  it('resumes after the event id it is given', async () => {
    const jobs = new FakeJobs(40);
    const client = await serveWith(new JobEventStreams(), jobs, { afterEventId: 3 });
    await eventually(() => client.text.includes('after 3'), 'the opening comment');
    expect(jobs.filters).toEqual([{ afterEventId: 3 }]);
  });

  it('sends a comment line every heartbeat while idle', async () => {
    const client = await serveWith(new JobEventStreams(), new FakeJobs(), {}, 10);
    await eventually(() => client.text.split(': heartbeat').length > 2, 'two heartbeats');
  });

  it('ends the watch when the client goes away', async () => {
    const jobs = new FakeJobs();
    const streams = new JobEventStreams();
    const client = await serveWith(streams, jobs, {});
    await eventually(() => jobs.watching === 1 && streams.size === 1, 'the watch started');
    client.response.destroy();
    await eventually(() => jobs.watching === 0 && streams.size === 0, 'the watch ended');
  });

  it('logs a watch that fails and ends the stream, so that the client reconnects', async () => {
    const jobs = new FakeJobs();
    jobs.watch = async function* () {
      yield* [];
      throw new Error('store is gone');
    };
    const lines: string[] = [];
    const streams = new JobEventStreams();
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const client = await serveWith(streams, jobs, {}, 60_000, logger);
    await eventually(() => client.ended, 'the stream ended');
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({
        event: 'job_events_failed',
        err: expect.objectContaining({ message: 'store is gone' }),
      }),
    ]);
    expect(streams.size).toBe(0);
  });

  it('ends open streams at shutdown, and refuses new ones', async () => {
    const jobs = new FakeJobs();
    const streams = new JobEventStreams();
    const client = await serveWith(streams, jobs, {});
    await eventually(() => streams.size === 1, 'the stream open');
    await streams.beforeApplicationShutdown();
    expect(streams.size).toBe(0);
    expect(jobs.watching).toBe(0);
    await eventually(() => client.ended, 'the client saw the end');
    const reply = { hijack: () => ({ raw: undefined }) } as unknown as FastifyReply;
    await expect(streams.serve(reply, jobs, {}, pino({ level: 'silent' }))).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
  });
});
