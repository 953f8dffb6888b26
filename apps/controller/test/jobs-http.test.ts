import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { createControllerApp, type ControllerApp } from '../src/create-controller-app.js';

// The job routes over real HTTP against a controller started in-process, with no worker: jobs
// stay pending, which is all that submit, read, cancel, retry, list, watch and summary need.

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

interface JobBody {
  id: string;
  state: string;
  priority: number;
  input: unknown;
  caller: string;
  runAt: string;
  timeline?: { id: number; from: string | null; to: string; kind: string }[];
}

interface ErrorBody {
  error: { code: string; message: string };
}

/** Polls `check` until it holds (the machine may be busy: no fixed sleep, no wall-clock bound). */
async function eventually(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A Server-Sent Events client on a raw socket: what it has received so far, frame by frame. */
class SseClient {
  readonly frames: { id: number; event: string; data: { event: Record<string, unknown>; job: JobBody } }[] =
    [];
  readonly comments: string[] = [];
  ended = false;
  private buffer = '';

  private constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    private readonly response: IncomingMessage,
  ) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => this.take(chunk));
    response.on('end', () => (this.ended = true));
    response.on('close', () => (this.ended = true));
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(url, { headers, agent: false }, (res) =>
        resolve(new SseClient(res.statusCode ?? 0, res.headers, res)),
      );
      req.on('error', reject);
      req.end();
    });
  }

  /** Events seen so far whose job is `jobId`. */
  of(jobId: string): SseClient['frames'] {
    return this.frames.filter((frame) => frame.data.job.id === jobId);
  }

  close(): void {
    this.response.destroy();
  }

  private take(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) !== -1) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const fields: Record<string, string> = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
        else {
          const colon = line.indexOf(':');
          fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
        }
      }
      if (fields['event'] !== undefined) {
        this.frames.push({
          id: Number(fields['id']),
          event: fields['event'],
          data: JSON.parse(fields['data'] ?? 'null') as SseClient['frames'][number]['data'],
        });
      }
    }
  }
}

describe('the job routes of the HTTP API', () => {
  let app: ControllerApp;
  let dataDir: string;
  const logLines: Record<string, unknown>[] = [];

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> => {
    const raw = typeof body === 'string' || Buffer.isBuffer(body);
    const response = await fetch(`${app.httpUrl}${path}`, {
      method,
      headers: body === undefined || raw ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: raw ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  };
  const job = (answer: Answer): JobBody => answer.body as unknown as JobBody;
  const error = (answer: Answer): ErrorBody['error'] => (answer.body as unknown as ErrorBody).error;
  const submit = async (fields: Record<string, unknown> = {}): Promise<JobBody> => {
    const answer = await call('POST', '/v1/jobs', {
      capability: 'debug.echo',
      input: { message: 'hi' },
      ...fields,
    });
    expect(answer.status).toBe(201);
    return job(answer);
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'crank-jobs-http-'));
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    app = await createControllerApp(
      {
        grpcAddr: '127.0.0.1:0',
        httpAddr: '127.0.0.1:0',
        dataDir,
        docsUi: false,
        // Long, so that a stream holding close() for its grace would show as `forced`.
        shutdownGraceMs: 20_000,
        logger,
      },
      {},
    );
  });

  afterAll(async () => {
    await app.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('submits a JSON job that stays pending without workers; the same idempotency key answers it again', async () => {
    const first = await call('POST', '/v1/jobs', {
      capability: 'debug.echo',
      input: { message: 'hello' },
      priority: 7,
      idempotencyKey: 'order-1',
    });
    expect(first.status).toBe(201);
    expect(job(first)).toMatchObject({
      capability: 'debug.echo',
      state: 'pending',
      priority: 7,
      input: { message: 'hello' },
      output: null,
      error: null,
      caller: 'http',
      idempotencyKey: 'order-1',
      startedAt: null,
    });
    const again = await call('POST', '/v1/jobs', {
      capability: 'debug.echo',
      input: { message: 'hello' },
      idempotencyKey: 'order-1',
    });
    expect(again.status).toBe(200);
    expect(job(again).id).toBe(job(first).id);
  });

  it('takes the input as the raw body with ?capability=, and refuses media types the capability does not take', async () => {
    const runAt = new Date(Date.now() + 3_600_000).toISOString();
    const raw = await call(
      'POST',
      `/v1/jobs?capability=debug.echo&priority=2&runAt=${runAt}`,
      '{"message":"raw"}',
      { 'content-type': 'application/json' },
    );
    expect(raw.status).toBe(201);
    expect(job(raw)).toMatchObject({ input: { message: 'raw' }, priority: 2, runAt, state: 'pending' });
    const unknownParameter = await call('POST', '/v1/jobs?capability=debug.echo&prio=1', '{"message":"x"}');
    expect(error(unknownParameter).message).toContain('prio: is not a parameter of POST /v1/jobs');
    const bytes = await call('POST', '/v1/jobs?capability=debug.echo', Buffer.from([1, 2, 3]), {
      'content-type': 'application/octet-stream',
    });
    expect(bytes.status).toBe(415);
    expect(error(bytes).code).toBe('UNSUPPORTED_FORMAT');
  });

  it('answers bad submits with 400 naming the field, and unknown capabilities with 404', async () => {
    const cases: [unknown, string][] = [
      [{ capability: 'debug.echo', input: { message: 'x' }, prority: 1 }, 'prority: is not a field of a job'],
      [{ input: {} }, 'capability: is required'],
      [{ capability: 'debug.echo' }, 'input: is required'],
      [
        { capability: 'debug.echo', input: { message: 'x' }, priority: 11 },
        'priority: must be a whole number from 0 to 10',
      ],
      [
        { capability: 'debug.echo', input: { message: 'x' }, runAt: 'tomorrow' },
        'runAt: must be an ISO 8601',
      ],
      [{ capability: 'debug.echo', input: { nope: 1 } }, 'input'],
    ];
    for (const [body, message] of cases) {
      const answer = await call('POST', '/v1/jobs', body);
      expect({ status: answer.status, code: error(answer).code }).toEqual({
        status: 400,
        code: 'INVALID_INPUT',
      });
      expect(error(answer).message).toContain(message);
    }
    const unknown = await call('POST', '/v1/jobs', { capability: 'no.such', input: {} });
    expect({ status: unknown.status, code: error(unknown).code }).toEqual({ status: 404, code: 'NOT_FOUND' });
  });

  it('reads a job with its timeline; 404 for an unknown id, 400 for a malformed one', async () => {
    const submitted = await submit({ runAt: Date.now() + 60_000 });
    const answer = await call('GET', `/v1/jobs/${submitted.id}`);
    expect(answer.status).toBe(200);
    expect(job(answer).timeline).toEqual([
      expect.objectContaining({ kind: 'state', from: null, to: 'pending' }),
    ]);
    expect(Date.parse(job(answer).runAt)).toBeGreaterThan(Date.now());

    const missing = await call('GET', '/v1/jobs/00000000-0000-7000-8000-000000000000');
    expect({ status: missing.status, code: error(missing).code }).toEqual({ status: 404, code: 'NOT_FOUND' });
    const malformed = await call('GET', '/v1/jobs/not-an-id');
    expect({ status: malformed.status, code: error(malformed).code }).toEqual({
      status: 400,
      code: 'INVALID_INPUT',
    });
  });

  it('cancels a pending job; retrying a cancelled job is 409 FAILED_PRECONDITION', async () => {
    const submitted = await submit();
    const cancelled = await call('DELETE', `/v1/jobs/${submitted.id}`);
    expect(cancelled.status).toBe(200);
    expect(job(cancelled)).toMatchObject({ id: submitted.id, state: 'cancelled' });
    expect(job(cancelled).timeline).toBeUndefined();

    const retried = await call('POST', `/v1/jobs/${submitted.id}/retry`);
    expect({ status: retried.status, code: error(retried).code }).toEqual({
      status: 409,
      code: 'FAILED_PRECONDITION',
    });
  });

  it('lists jobs with filters, sorts and a cursor', async () => {
    const mine = [
      await submit({ priority: 1 }),
      await submit({ priority: 9 }),
      await submit({ priority: 4 }),
    ];
    await call('DELETE', `/v1/jobs/${mine[2]?.id}`);
    const ids = new Set(mine.map((j) => j.id));
    const from = String((await call('GET', `/v1/jobs/${mine[0]?.id}`)).body['createdAt']);
    const page = async (query: string): Promise<{ jobs: JobBody[]; nextCursor: string | null }> => {
      const answer = await call('GET', `/v1/jobs?${query}`);
      expect(answer.status).toBe(200);
      return answer.body as unknown as { jobs: JobBody[]; nextCursor: string | null };
    };
    /** Of a page, the jobs of this test (another may share the first one's millisecond). */
    const ours = (listed: { jobs: JobBody[] }): JobBody[] => listed.jobs.filter((j) => ids.has(j.id));

    const pending = await page(`status=pending&from=${from}`);
    expect(pending.jobs.every((j) => j.state === 'pending')).toBe(true);
    expect(ours(pending).map((j) => j.id)).toEqual([mine[1]?.id, mine[0]?.id]);
    const both = await page(`status=pending,cancelled&from=${Date.parse(from)}&sort=created_asc`);
    expect(ours(both).map((j) => j.id)).toEqual(mine.map((j) => j.id));
    const urgent = await page(`from=${from}&priorityMin=5&priorityMax=10&capability=debug.echo`);
    expect(urgent.jobs.every((j) => j.priority >= 5)).toBe(true);
    expect(ours(urgent).map((j) => j.id)).toEqual([mine[1]?.id]);
    const byPriority = await page(`from=${from}&sort=priority_desc`);
    expect(ours(byPriority).map((j) => j.priority)).toEqual([9, 4, 1]);
    const other = await page(`capability=other.thing`);
    expect(other).toEqual({ jobs: [], nextCursor: null });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const next: { jobs: JobBody[]; nextCursor: string | null } = await page(
        `from=${from}&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(next.jobs.length).toBeLessThanOrEqual(1);
      seen.push(...next.jobs.map((j) => j.id));
      cursor = next.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => ids.has(id))).toEqual(mine.map((j) => j.id).reverse());

    const future = await page(`from=${new Date(Date.now() + 86_400_000).toISOString()}`);
    expect(future).toEqual({ jobs: [], nextCursor: null });
  });

  it('answers each bad list parameter with 400 naming it', async () => {
    const cases: [string, string][] = [
      ['status=bogus', 'status: "bogus" is not a job state'],
      ['status=pending&status=failed', 'status: give it once'],
      ['limit=0', 'limit: must be a whole number from 1 to 500'],
      ['priorityMin=x', 'priorityMin: must be a whole number'],
      ['priorityMin=6&priorityMax=2', 'priorityMin: must not be above priorityMax'],
      ['from=yesterday', 'from: must be an ISO 8601'],
      ['to=2026-13-45', 'to: must be an ISO 8601'],
      ['sort=newest', 'sort: must be one of'],
      ['cursor=garbage', 'cursor: is not a cursor'],
      ['state=pending', 'state: is not a parameter of GET /v1/jobs'],
    ];
    for (const [query, message] of cases) {
      const answer = await call('GET', `/v1/jobs?${query}`);
      expect({ query, status: answer.status, code: error(answer).code }).toEqual({
        query,
        status: 400,
        code: 'INVALID_INPUT',
      });
      expect(error(answer).message).toContain(message);
    }
  });

  it('streams job events as SSE, resumable with Last-Event-ID', async () => {
    const stream = await SseClient.open(`${app.httpUrl}/v1/jobs/events?capability=debug.echo`);
    try {
      expect(stream.status).toBe(200);
      expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(stream.headers['cache-control']).toBe('no-cache');
      expect(stream.headers['x-accel-buffering']).toBe('no');
      // Anything written once the headers are in is seen.
      const submitted = await submit();
      await call('DELETE', `/v1/jobs/${submitted.id}`);
      await eventually(() => stream.of(submitted.id).length === 2, 'submit and cancel events');
      const [first, second] = stream.of(submitted.id);
      expect(first).toMatchObject({
        event: 'job',
        data: { event: { kind: 'state', from: null, to: 'pending', attempt: 0 }, job: { id: submitted.id } },
      });
      expect(second).toMatchObject({
        data: { event: { from: 'pending', to: 'cancelled' }, job: { state: 'cancelled' } },
      });
      expect(second?.id).toBeGreaterThan(first?.id ?? Infinity);

      const resumed = await SseClient.open(`${app.httpUrl}/v1/jobs/events?id=${submitted.id}`, {
        'last-event-id': String(first?.id),
      });
      try {
        await eventually(() => resumed.frames.length >= 1, 'the event after Last-Event-ID');
        expect(resumed.frames.map((f) => f.id)).toEqual([second?.id]);
      } finally {
        resumed.close();
      }
      const viaQuery = await SseClient.open(`${app.httpUrl}/v1/jobs/events?after=${String(first?.id)}`);
      try {
        await eventually(() => viaQuery.of(submitted.id).length >= 1, 'the event after ?after=');
        expect(viaQuery.of(submitted.id).map((f) => f.id)).toEqual([second?.id]);
      } finally {
        viaQuery.close();
      }
    } finally {
      stream.close();
    }
    const bad = await call('GET', '/v1/jobs/events?id=nope');
    expect({ status: bad.status, message: error(bad).message }).toEqual({
      status: 400,
      message: 'id: "nope" is not a job id',
    });
  });

  it('summarises jobs by state, queue depth and load', async () => {
    const answer = await call('GET', '/v1/metrics/summary');
    expect(answer.status).toBe(200);
    const summary = answer.body as {
      byState: Record<string, number>;
      queueDepth: Record<string, number>;
      load: Record<string, unknown>;
      successRate: number | null;
    };
    const listed = async (status: string): Promise<number> =>
      ((await call('GET', `/v1/jobs?status=${status}&limit=500`)).body['jobs'] as unknown[]).length;
    expect(summary.byState['pending']).toBe(await listed('pending'));
    expect(summary.byState['cancelled']).toBe(await listed('cancelled'));
    expect(summary.byState['completed']).toBe(0);
    // Pending jobs due now; the two delayed ones are not.
    expect(summary.queueDepth['debug.echo']).toBe((summary.byState['pending'] ?? 0) - 2);
    expect(summary.successRate).toBeNull();
    expect(summary.load).toEqual({ workers: 0, inFlight: 0, slots: 0, utilization: null, byCapability: {} });
    const bad = await call('GET', '/v1/metrics/summary?windowMs=5');
    expect(error(bad).message).toContain('windowMs: must be a whole number from 1000');
  });

  it('describes every job route in the OpenAPI document', async () => {
    const doc = await call('GET', '/docs/json');
    const paths = doc.body['paths'] as Record<string, Record<string, unknown>>;
    expect(Object.keys(paths['/v1/jobs'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(paths['/v1/jobs/{id}'] ?? {}).sort()).toEqual(['delete', 'get']);
    expect(Object.keys(paths['/v1/jobs/{id}/retry'] ?? {})).toEqual(['post']);
    expect(Object.keys(paths['/v1/jobs/events'] ?? {})).toEqual(['get']);
    expect(Object.keys(paths['/v1/metrics/summary'] ?? {})).toEqual(['get']);
  });

  it('ends open event streams at shutdown instead of holding close() for its grace', async () => {
    const stream = await SseClient.open(`${app.httpUrl}/v1/jobs/events`);
    expect(stream.status).toBe(200);
    await app.close();
    await eventually(() => stream.ended, 'the stream ended by shutdown');
    const stopped = logLines.find((line) => line['event'] === 'controller_stopped');
    expect(stopped).toMatchObject({ forced: false });
  });
});
