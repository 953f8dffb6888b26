import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CapabilityError, defineCapability } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import { CrankWorker, serve } from '@crank/worker-runtime';
import { pino } from 'pino';
import { Cluster, eventually } from './harness.js';
import { PG_URL, dropSchema, uniqueSchema } from './postgres.js';

interface JobInput {
  n: number;
  /** Fail with UNAVAILABLE this many times (per job) before succeeding. */
  failTimes?: number;
  /** Fail with this code at once. */
  failWith?: 'INVALID_INPUT';
  delayMs?: number;
  /** Report progress in steps while working. */
  steps?: number;
}

const JOB = defineCapability<JobInput, { n: number; workerId: string }>({
  id: 'test.job',
  version: '1.0.0',
  inputSchema: {
    type: 'object',
    required: ['n'],
    properties: {
      n: { type: 'integer' },
      failTimes: { type: 'integer' },
      failWith: { type: 'string' },
      delayMs: { type: 'integer' },
      steps: { type: 'integer' },
    },
  },
  outputSchema: { type: 'object', required: ['n', 'workerId'] },
  errorCodes: ['INVALID_INPUT'],
  resources: { maxConcurrency: 8 },
});

/** Every execution of a handler, by job id: the "exactly once" ledger. */
const executions = new Map<string, { count: number; workers: string[]; startedAt: number[] }>();
const order: number[] = [];
let cancelledSeen = 0;

function startJobWorker(cluster: Cluster, name: string, maxConcurrency = 8): Promise<CrankWorker> {
  const capability = defineCapability<JobInput, { n: number; workerId: string }>({
    ...JOB.definition,
    resources: { maxConcurrency },
  });
  return CrankWorker.create({
    name,
    controllerUrl: cluster.grpcAddress,
    dataDir: cluster.dataDir,
    logger: pino({ level: 'silent' }),
    capabilities: [
      serve(capability, async (input, ctx) => {
        const id = ctx.jobId ?? ctx.requestId;
        const seen = executions.get(id) ?? { count: 0, workers: [], startedAt: [] };
        seen.count += 1;
        seen.workers.push(ctx.workerId);
        seen.startedAt.push(Date.now());
        executions.set(id, seen);
        order.push(input.n);
        if (input.failWith) throw new CapabilityError(input.failWith, `failing on request (n=${input.n})`);
        if (input.failTimes && seen.count <= input.failTimes) {
          throw new CapabilityError('UNAVAILABLE', `not yet (execution ${seen.count})`);
        }
        const steps = input.steps ?? 0;
        for (let step = 1; step <= steps; step++) {
          await sleep((input.delayMs ?? 0) / Math.max(steps, 1), ctx.signal).catch((error: unknown) => {
            cancelledSeen += 1;
            throw error;
          });
          ctx.progress(step / steps, `step ${step} of ${steps}`);
        }
        if (!steps && input.delayMs) {
          await sleep(input.delayMs, ctx.signal).catch((error: unknown) => {
            cancelledSeen += 1;
            throw error;
          });
        }
        return { n: input.n, workerId: ctx.workerId };
      }),
    ],
  }).then(async (worker) => {
    await worker.start();
    return worker;
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}

const stores = [
  ['SQLite', () => ({ env: {}, cleanup: async () => undefined })],
  [
    'PostgreSQL',
    () => {
      const schema = uniqueSchema('jobs');
      return {
        env: { CRANK_DB_URL: PG_URL, CRANK_DB_SCHEMA: schema },
        cleanup: () => dropSchema(schema),
      };
    },
  ],
] as const;

describe.each(stores)('durable jobs on %s', (_store, makeStore) => {
  const store = makeStore();
  let cluster: Cluster;
  let workers: CrankWorker[];
  let client: CrankClient;

  beforeAll(async () => {
    cluster = await Cluster.start({ heartbeatMs: 500, env: store.env });
    workers = [await startJobWorker(cluster, 'jobs-a'), await startJobWorker(cluster, 'jobs-b')];
    client = await cluster.client();
  }, 60_000);

  afterAll(async () => {
    for (const worker of workers ?? []) await worker.stop();
    await cluster?.close();
    await store.cleanup();
  });

  it('runs 1,000 jobs through 2 workers, each exactly once', async () => {
    const ids: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const submitted = await Promise.all(
        Array.from({ length: 100 }, (_, i) => client.jobs.submit(JOB.id, { n: batch * 100 + i })),
      );
      ids.push(...submitted.map((job) => job.id));
    }
    await eventually(
      async () => {
        const page = await client.jobs.list({ status: 'completed', capability: JOB.id, limit: 500 });
        const more = page.nextCursor
          ? await client.jobs.list({
              status: 'completed',
              capability: JOB.id,
              limit: 500,
              cursor: page.nextCursor,
            })
          : { jobs: [] };
        return page.jobs.length + more.jobs.length >= 1_000;
      },
      120_000,
      250,
    );
    const counts = ids.map((id) => executions.get(id)?.count ?? 0);
    expect(counts.filter((c) => c !== 1)).toEqual([]);
    const served = new Set(ids.flatMap((id) => executions.get(id)?.workers ?? []));
    expect(served).toEqual(new Set(workers.map((w) => w.id)));
    const sample = await client.jobs.get(ids[500] as string);
    expect(sample).toMatchObject({ state: 'completed', attempts: 1, output: { n: 500 } });
    expect(sample.history?.map((h) => h.to)).toEqual(['pending', 'assigned', 'processing', 'completed']);
  }, 180_000);

  it('tries a job failing twice with a retryable code again, and completes it on the third attempt', async () => {
    const job = await client.jobs.submit(JOB.id, { n: 1, failTimes: 2 }, { backoffMs: 20 });
    const done = await client.jobs.wait(job.id, { timeoutMs: 30_000 });
    expect(done).toMatchObject({ state: 'completed', attempts: 3, output: { n: 1 } });
    expect(executions.get(job.id)?.count).toBe(3);
  });

  it('fails a permanent error at once, and dead-letters a job after its last attempt', async () => {
    const permanent = await client.jobs.submit(JOB.id, { n: 2, failWith: 'INVALID_INPUT' });
    expect(await client.jobs.wait(permanent.id, { timeoutMs: 30_000 })).toMatchObject({
      state: 'failed',
      attempts: 1,
      error: expect.objectContaining({ code: 'INVALID_INPUT' }),
    });
    const hopeless = await client.jobs.submit(
      JOB.id,
      { n: 3, failTimes: 99 },
      { maxAttempts: 2, backoffMs: 10 },
    );
    expect(await client.jobs.wait(hopeless.id, { timeoutMs: 30_000 })).toMatchObject({
      state: 'dead_letter',
      attempts: 2,
      error: expect.objectContaining({ code: 'UNAVAILABLE' }),
    });
    // An operator's retry starts a new round of attempts.
    const retried = await client.jobs.retry(hopeless.id);
    expect(retried).toMatchObject({ state: 'pending', attempts: 0 });
    expect(await client.jobs.wait(hopeless.id, { timeoutMs: 30_000 })).toMatchObject({
      state: 'dead_letter',
    });
  });

  it('honours priority and runAt', async () => {
    // One slot, held by a slow job: what queues behind it starts in priority order.
    const blocker = await startJobWorker(cluster, 'jobs-single', 1);
    for (const w of workers) await w.stop();
    try {
      const slow = await client.jobs.submit(JOB.id, { n: 100, delayMs: 800 });
      await eventually(async () => (await client.jobs.get(slow.id)).state === 'processing');
      order.length = 0;
      const low = await client.jobs.submit(JOB.id, { n: 101 }, { priority: 1 });
      const high = await client.jobs.submit(JOB.id, { n: 102 }, { priority: 9 });
      const delayedAt = Date.now() + 1_500;
      const delayed = await client.jobs.submit(
        JOB.id,
        { n: 103 },
        { priority: 10, runAt: new Date(delayedAt) },
      );
      for (const job of [low, high, delayed]) await client.jobs.wait(job.id, { timeoutMs: 30_000 });
      expect(order).toEqual([102, 101, 103]);
      expect(executions.get(delayed.id)?.startedAt[0]).toBeGreaterThanOrEqual(delayedAt);
    } finally {
      workers = [await startJobWorker(cluster, 'jobs-a'), await startJobWorker(cluster, 'jobs-b')];
      await blocker.stop();
    }
  }, 60_000);

  it('cancels a pending job at once, and a running one through its handler', async () => {
    const later = await client.jobs.submit(JOB.id, { n: 4 }, { runAt: new Date(Date.now() + 60_000) });
    expect(await client.jobs.cancel(later.id)).toMatchObject({ state: 'cancelled' });

    const before = cancelledSeen;
    const running = await client.jobs.submit(JOB.id, { n: 5, delayMs: 30_000, steps: 300 });
    await eventually(async () => (await client.jobs.get(running.id)).progress > 0, 10_000);
    await client.jobs.cancel(running.id);
    expect(await client.jobs.wait(running.id, { timeoutMs: 10_000 })).toMatchObject({ state: 'cancelled' });
    expect(cancelledSeen).toBe(before + 1);
  });

  it('records the progress a handler reports, and tells watchers', async () => {
    const abort = new AbortController();
    const seen: { kind: string; progress: number; state: string }[] = [];
    const job = await client.jobs.submit(JOB.id, { n: 6, delayMs: 1_200, steps: 3 });
    const watching = (async () => {
      for await (const event of client.jobs.watch(
        { ids: [job.id], afterEventId: 0 },
        { signal: abort.signal },
      )) {
        seen.push({ kind: event.kind, progress: event.job.progress, state: event.job.state });
        if (event.job.state === 'completed') break;
      }
    })();
    await client.jobs.wait(job.id, { timeoutMs: 30_000 });
    await eventually(() => seen.some((e) => e.state === 'completed'), 10_000);
    abort.abort();
    await watching.catch(() => undefined);
    expect(seen.filter((e) => e.kind === 'progress').length).toBeGreaterThanOrEqual(2);
    expect(seen.at(-1)).toMatchObject({ state: 'completed', progress: 1 });
    const history = (await client.jobs.get(job.id)).history ?? [];
    // The last report races the job's end (a completed job's progress is 1 anyway); earlier ones land.
    expect(history.filter((h) => h.kind === 'progress').map((h) => h.message)).toContain('step 1 of 3');
  });

  it('returns the first job for a reused idempotency key, and refuses bad input before storing', async () => {
    const first = await client.jobs.submit(JOB.id, { n: 7 }, { idempotencyKey: 'once' });
    const second = await client.jobs.submit(JOB.id, { n: 8 }, { idempotencyKey: 'once' });
    expect(second.id).toBe(first.id);
    await expect(client.jobs.submit(JOB.id, { n: 'x' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(client.jobs.submit('no.such', {})).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(client.jobs.submit(JOB.id, { n: 1 }, { priority: 11 })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });
});
