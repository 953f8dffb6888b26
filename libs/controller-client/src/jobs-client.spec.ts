import { getEventListeners } from 'node:events';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { defineCapability, InvalidInputError } from '@crank/capabilities';
import { JobOrder, JobStatus, Payload } from '@crank/proto';
import { errorInfo, eventually, FakeJobController, jsonPayload } from '../test/fake-job-controller.js';
import type { CrankClient } from './crank-client.js';
import type { JobEventInfo, JobInfo } from './job-info.js';

let fake: FakeJobController;
let client: CrankClient;

beforeAll(async () => {
  fake = await FakeJobController.start();
});

afterAll(() => {
  fake.close();
});

beforeEach(() => {
  client = fake.client();
});

afterEach(() => {
  client.close();
});

/** The first `count` events of `events`, then leaves the loop. */
async function take<T>(events: AsyncIterable<T>, count: number): Promise<T[]> {
  const seen: T[] = [];
  if (count === 0) return seen;
  for await (const event of events) {
    seen.push(event);
    if (seen.length === count) break;
  }
  return seen;
}

describe('jobs.submit', () => {
  it('sends every option and answers the job as a plain object with dates', async () => {
    const runAt = new Date(Date.now() + 60_000);
    const job = await client.jobs.submit(
      'report.build',
      { month: '2025-01' },
      {
        version: '^2',
        priority: 9,
        maxAttempts: 5,
        timeoutMs: 60_000,
        backoffMs: 2_000,
        runAt,
        idempotencyKey: 'report-2025-01',
      },
    );

    expect(fake.submits.at(-1)).toMatchObject({
      capability: 'report.build',
      version: '^2',
      priority: 9,
      maxAttempts: 5,
      timeoutMs: 60_000,
      backoffMs: 2_000,
      runAtUnixMs: runAt.getTime(),
      idempotencyKey: 'report-2025-01',
      input: { contentType: 'application/json' },
    });
    expect(JSON.parse(Buffer.from(fake.submits.at(-1)?.input?.data ?? []).toString())).toEqual({
      month: '2025-01',
    });
    expect(job).toMatchObject({
      id: expect.stringMatching(/^job-\d+$/),
      capability: 'report.build',
      versionRange: '^2',
      state: 'pending',
      priority: 9,
      maxAttempts: 5,
      timeoutMs: 60_000,
      backoffMs: 2_000,
      idempotencyKey: 'report-2025-01',
      runAt,
      output: undefined,
      error: undefined,
      startedAt: undefined,
      history: [],
    });
    expect(job.createdAt).toBeInstanceOf(Date);
  });

  it('sends priority 5 and leaves every limit to the controller when no option is given', async () => {
    await client.jobs.submit('debug.echo', { message: 'hi' });

    expect(fake.submits.at(-1)).toMatchObject({
      version: '',
      priority: 5,
      maxAttempts: 0,
      timeoutMs: 0,
      backoffMs: 0,
      runAtUnixMs: 0,
      idempotencyKey: '',
    });
  });

  it('asks for ^ the version of a Capability, and sends bytes with their content type', async () => {
    const convert = defineCapability<{ format: string }, { pages: number }>({
      id: 'convert.document',
      version: '1.4.2',
      inputSchema: { type: 'object' },
      outputSchema: { type: 'object' },
    });

    await client.jobs.submit(convert, Buffer.from('%PDF'), { contentType: 'application/pdf' });

    expect(fake.submits.at(-1)).toMatchObject({
      capability: 'convert.document',
      version: '^1.4.2',
      input: { contentType: 'application/pdf', data: Buffer.from('%PDF') },
    });
  });

  it.each([
    [{ priority: 11 }, 'priority: must be a whole number from 0 to 10 (got 11)'],
    [{ priority: 2.5 }, 'priority: must be a whole number from 0 to 10 (got 2.5)'],
    [{ maxAttempts: 0 }, 'maxAttempts: must be a whole number of at least 1 (got 0)'],
    [{ timeoutMs: -1 }, 'timeoutMs: must be a whole number of at least 1 (got -1)'],
    [{ runAt: new Date('nope') }, 'runAt: must be a valid Date after 1970'],
  ])('refuses %j with INVALID_INPUT before calling', async (options, message) => {
    const before = fake.submits.length;

    await expect(client.jobs.submit('debug.echo', {}, options)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message,
    });
    expect(fake.submits).toHaveLength(before);
  });
});

describe('jobs.get, cancel and retry', () => {
  it('answers the history, the parsed output and the error rebuilt as its class', async () => {
    const { id } = fake.put({});
    fake.transition(id, 'assigned', { workerId: 'w1' });
    fake.transition(id, 'processing', { startedAtUnixMs: Date.now() });
    fake.progress(id, 0.5, 'half way');
    fake.transition(id, 'failed', {
      error: errorInfo('INVALID_INPUT', 'month: must be a date', {
        errors: [{ path: '/month', message: 'bad' }],
      }),
      output: jsonPayload({ partial: true }),
      finishedAtUnixMs: Date.now(),
    });

    const job = await client.jobs.get(id);

    expect(job).toMatchObject({ state: 'failed', attempts: 1, workerId: 'w1', output: { partial: true } });
    expect(job.error).toBeInstanceOf(InvalidInputError);
    expect(job.error).toMatchObject({ code: 'INVALID_INPUT', message: 'month: must be a date' });
    expect((job.error as InvalidInputError).errors).toEqual([{ path: '/month', message: 'bad' }]);
    expect(job.finishedAt).toBeInstanceOf(Date);
    expect(job.history.map((t) => [t.kind, t.from, t.to, t.progress])).toEqual([
      ['state', undefined, 'pending', 0],
      ['state', 'pending', 'assigned', 0],
      ['state', 'assigned', 'processing', 0],
      ['progress', 'processing', 'processing', 0.5],
      ['state', 'processing', 'failed', 0],
    ]);
    expect(job.history[4]).toMatchObject({
      attempt: 1,
      error: { code: 'INVALID_INPUT', message: 'month: must be a date' },
      at: expect.any(Date),
    });
  });

  it('answers a byte output as a Buffer', async () => {
    const { id } = fake.put({ status: JobStatus.JOB_STATUS_COMPLETED });
    fake.transition(id, 'completed', {
      output: Payload.fromPartial({ contentType: 'image/png', data: Buffer.from([1, 2]) }),
    });

    const job = await client.jobs.get(id);

    expect(job.output).toEqual(Buffer.from([1, 2]));
    expect(job.outputContentType).toBe('image/png');
  });

  it('fails with NOT_FOUND for an unknown job', async () => {
    await expect(client.jobs.get('nope')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'no job "nope"',
    });
  });

  it('cancels a pending job at once, and marks a running one', async () => {
    const pending = fake.put({});
    const running = fake.put({ status: JobStatus.JOB_STATUS_PROCESSING });

    await expect(client.jobs.cancel(pending.id)).resolves.toMatchObject({ state: 'cancelled' });
    await expect(client.jobs.cancel(running.id)).resolves.toMatchObject({
      state: 'processing',
      cancelRequested: true,
    });
  });

  it('retries a failed job, and refuses a pending one with FAILED_PRECONDITION', async () => {
    const failed = fake.put({ status: JobStatus.JOB_STATUS_FAILED });
    const pending = fake.put({});

    await expect(client.jobs.retry(failed.id)).resolves.toMatchObject({ state: 'pending' });
    await expect(client.jobs.retry(pending.id)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
  });
});

describe('jobs.list', () => {
  it('sends the filter as the wire request and answers the page', async () => {
    const from = new Date('2025-01-01T00:00:00Z');
    const to = new Date('2025-02-01T00:00:00Z');
    const job = fake.put({ capability: 'report.build' });
    fake.onList = () => ({ jobs: [job], nextPageToken: 'next-1' });

    const page = await client.jobs.list({
      status: ['pending', 'failed', 'pending'],
      capability: 'report.build',
      priorityMin: 3,
      priorityMax: 8,
      from,
      to,
      limit: 20,
      cursor: 'prev',
      sort: 'priority_desc',
    });

    expect(fake.lists.at(-1)).toEqual({
      statuses: [JobStatus.JOB_STATUS_PENDING, JobStatus.JOB_STATUS_FAILED],
      capability: 'report.build',
      minPriority: 3,
      maxPriority: 8,
      createdAfterUnixMs: from.getTime(),
      createdBeforeUnixMs: to.getTime(),
      pageSize: 20,
      pageToken: 'prev',
      order: JobOrder.JOB_ORDER_PRIORITY_DESC,
    });
    expect(page.jobs.map((j) => j.id)).toEqual([job.id]);
    expect(page.nextCursor).toBe('next-1');
  });

  it('sends no filter by default, newest first, and leaves nextCursor out on the last page', async () => {
    fake.onList = () => ({ jobs: [], nextPageToken: '' });

    const page = await client.jobs.list();

    expect(fake.lists.at(-1)).toMatchObject({
      statuses: [],
      pageSize: 0,
      order: JobOrder.JOB_ORDER_CREATED_DESC,
    });
    expect(page).toEqual({ jobs: [] });
  });

  it.each([
    [{ priorityMax: 0 }, 'priorityMax: must be a whole number from 1 to 10 (got 0)'],
    [{ priorityMin: 6, priorityMax: 5 }, 'priorityMin: must not be above priorityMax (got 6 > 5)'],
    [{ limit: 501 }, 'limit: must be a whole number from 1 to 500 (got 501)'],
    [{ status: 'done' as 'completed' }, 'status: "done" is not a job state'],
    [{ sort: 'newest' as 'created_desc' }, 'sort: must be one of created_desc, created_asc, priority_desc'],
  ])('refuses %j with INVALID_INPUT', async (filter, message) => {
    await expect(client.jobs.list(filter)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining(message),
    });
  });

  it('listAll follows the cursors to the last page, with the page size', async () => {
    const jobs = [fake.put({}), fake.put({}), fake.put({})];
    fake.onList = (request) => {
      const at = request.pageToken === '' ? 0 : Number(request.pageToken);
      const next = at + request.pageSize;
      return { jobs: jobs.slice(at, next), nextPageToken: next < jobs.length ? String(next) : '' };
    };
    const before = fake.lists.length;

    const seen: JobInfo[] = [];
    for await (const job of client.jobs.listAll({ capability: 'debug.echo', pageSize: 2 })) seen.push(job);

    expect(seen.map((j) => j.id)).toEqual(jobs.map((j) => j.id));
    expect(fake.lists.slice(before).map((r) => [r.pageToken, r.pageSize, r.capability])).toEqual([
      ['', 2, 'debug.echo'],
      ['2', 2, 'debug.echo'],
    ]);
  });
});

describe('jobs.watch', () => {
  it('yields the events of the jobs asked for, and ends quietly with the stream cancelled when the signal aborts', async () => {
    const mine = fake.put({ capability: 'report.build' });
    const other = fake.put({ capability: 'report.build' });
    const abort = new AbortController();
    const watched = fake.watches.length;
    const seen: JobEventInfo[] = [];
    const loop = (async () => {
      for await (const event of client.jobs.watch({ ids: [mine.id] }, { signal: abort.signal })) {
        seen.push(event);
        if (seen.length === 2) abort.abort();
      }
    })();
    await eventually(() => fake.watches.length === watched + 1);

    fake.transition(other.id, 'assigned');
    fake.transition(mine.id, 'assigned', { workerId: 'w1' });
    fake.progress(mine.id, 0.25, 'a quarter');

    await loop;
    expect(seen.map((e) => [e.kind, e.previousState, e.job.state, e.job.progress])).toEqual([
      ['state', 'pending', 'assigned', 0],
      ['progress', 'assigned', 'assigned', 0.25],
    ]);
    expect(seen[1]).toMatchObject({
      job: { id: mine.id, progressMessage: 'a quarter' },
      at: expect.any(Date),
    });
    expect(fake.watches[watched]?.request).toEqual({ capability: '', jobIds: [mine.id], afterEventId: 0 });
    await eventually(() => fake.watches[watched]?.cancelled === true);
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
  });

  it('cancels the stream when the loop is left', async () => {
    const job = fake.put({ capability: 'loop.left' });
    const watched = fake.watches.length;
    const events = client.jobs.watch({ capability: 'loop.left' });
    const first = take(events, 1);
    await eventually(() => fake.watches.length > watched);

    fake.transition(job.id, 'assigned');

    await expect(first).resolves.toHaveLength(1);
    await eventually(() => fake.watches[watched]?.cancelled === true);
  });

  it('reopens a lost stream after the last event seen, losing none and repeating none', async () => {
    const job = fake.put({ capability: 'resume.me' });
    const watched = fake.watches.length;
    const seen: JobEventInfo[] = [];
    const loop = (async () => {
      for await (const event of client.jobs.watch({ ids: [job.id] }, { retryInitialDelayMs: 10 })) {
        seen.push(event);
        if (event.job.state === 'completed') break;
      }
    })();
    await eventually(() => fake.watches.length === watched + 1);
    const assigned = fake.transition(job.id, 'assigned');
    const processing = fake.transition(job.id, 'processing');
    await eventually(() => seen.length === 2);

    fake.breakWatch(watched);
    fake.progress(job.id, 0.5, 'sent while the client was away');
    await eventually(() => fake.watches.length === watched + 2);
    fake.transition(job.id, 'completed');

    await loop;
    expect(seen.map((e) => e.eventId)).toEqual([
      assigned.eventId,
      processing.eventId,
      processing.eventId + 1,
      processing.eventId + 2,
    ]);
    expect(seen.map((e) => `${e.kind}:${e.job.state}`)).toEqual([
      'state:assigned',
      'state:processing',
      'progress:processing',
      'state:completed',
    ]);
    expect(fake.watches[watched + 1]?.request.afterEventId).toBe(processing.eventId);
  });

  it('fails at once with a refusal that another try cannot mend', async () => {
    fake.failNext('watchJobs', status.PERMISSION_DENIED, 'not yours');
    const watched = fake.watches.length;

    await expect(
      take(client.jobs.watch({ ids: ['x'] }, { retryInitialDelayMs: 1 }), 1),
    ).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
    });
    expect(fake.watches).toHaveLength(watched + 1);
  });

  it('fails with the last error after maxRetries reconnects without an event', async () => {
    const watched = fake.watches.length;
    const events = take(client.jobs.watch({ ids: ['gone'] }, { retryInitialDelayMs: 1, maxRetries: 1 }), 1);
    await eventually(() => fake.watches.length === watched + 1);
    fake.breakWatch(watched);
    await eventually(() => fake.watches.length === watched + 2);
    fake.breakWatch(watched + 1, status.UNAVAILABLE, 'still down');

    await expect(events).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'still down' });
  });
});

describe('jobs.wait', () => {
  it('follows the job from its last event and resolves at its end, reporting each step', async () => {
    const job = fake.put({});
    const watched = fake.watches.length;
    const steps: string[] = [];
    const done = client.jobs.wait(job.id, { onProgress: (j) => steps.push(`${j.state}:${j.progress}`) });
    await eventually(() => fake.watches.length === watched + 1);

    fake.transition(job.id, 'assigned');
    fake.transition(job.id, 'processing');
    fake.progress(job.id, 0.5, 'half');
    fake.transition(job.id, 'completed', { output: jsonPayload({ ok: true }) });

    await expect(done).resolves.toMatchObject({ id: job.id, state: 'completed', output: { ok: true } });
    expect(steps).toEqual(['pending:0', 'assigned:0', 'processing:0', 'processing:0.5']);
    expect(fake.watches[watched]?.request).toMatchObject({
      jobIds: [job.id],
      afterEventId: job.history[0]?.eventId,
    });
    await eventually(() => fake.watches[watched]?.cancelled === true);
  });

  it('resolves with a job that has ended already, opening no watch', async () => {
    const job = fake.put({ status: JobStatus.JOB_STATUS_DEAD_LETTER });
    const watched = fake.watches.length;

    await expect(client.jobs.wait(job.id)).resolves.toMatchObject({ state: 'dead_letter' });
    expect(fake.watches).toHaveLength(watched);
  });

  it('is typed by the job it is given', async () => {
    const { id } = fake.put({ status: JobStatus.JOB_STATUS_COMPLETED, output: jsonPayload({ pages: 3 }) });
    const job = await client.jobs.get<{ pages: number }>(id);

    const done = await client.jobs.wait(job);
    const pages: number | undefined = done.output?.pages;

    expect(pages).toBe(3);
  });

  it('misses no event between reading the job and opening the watch', async () => {
    const job = fake.put({});
    let first = true;
    const done = client.jobs.wait(job.id, {
      onProgress: () => {
        // Runs after the read, before the watch opens.
        if (first) fake.transition(job.id, 'cancelled');
        first = false;
      },
    });

    await expect(done).resolves.toMatchObject({ state: 'cancelled' });
  });

  it('resolves after the stream is lost, through the reopened watch', async () => {
    const job = fake.put({});
    const watched = fake.watches.length;
    const done = client.jobs.wait(job.id, { retryInitialDelayMs: 10 });
    await eventually(() => fake.watches.length === watched + 1);

    fake.breakWatch(watched);
    fake.transition(job.id, 'failed', { error: errorInfo('DEADLINE_EXCEEDED', 'the attempt took too long') });

    await expect(done).resolves.toMatchObject({ state: 'failed', error: { code: 'DEADLINE_EXCEEDED' } });
  });

  it('reads the job again when the watch stays quiet, so a lost event cannot hang it', async () => {
    const job = fake.put({});
    const watched = fake.watches.length;
    const done = client.jobs.wait(job.id, { pollIntervalMs: 20 });
    await eventually(() => fake.watches.length === watched + 1);

    fake.deliver = false;
    try {
      fake.transition(job.id, 'completed');
      await expect(done).resolves.toMatchObject({ state: 'completed' });
    } finally {
      fake.deliver = true;
    }
  });

  it('fails with DEADLINE_EXCEEDED past timeoutMs and lets the watch go', async () => {
    const job = fake.put({});
    const watched = fake.watches.length;
    const done = client.jobs.wait(job.id, { timeoutMs: 200 });

    await expect(done).rejects.toMatchObject({
      code: 'DEADLINE_EXCEEDED',
      message: `wait: job ${job.id} did not end within 200 ms`,
    });
    await eventually(() => fake.watches.slice(watched).every((w) => w.cancelled));
  });

  it('fails with CANCELLED when the signal aborts, and lets the watch go', async () => {
    const job = fake.put({});
    const watched = fake.watches.length;
    const abort = new AbortController();
    const done = client.jobs.wait(job.id, { signal: abort.signal });
    await eventually(() => fake.watches.length === watched + 1);

    abort.abort();

    await expect(done).rejects.toMatchObject({ code: 'CANCELLED' });
    await eventually(() => fake.watches[watched]?.cancelled === true);
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
  });

  it('fails with NOT_FOUND for an unknown job', async () => {
    await expect(client.jobs.wait('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
