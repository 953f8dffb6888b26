import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openJobDatabase } from './job-database.js';
import type { JobRecord, JobStore, NewJob } from './job-store.js';
import { SqlJobStore } from './sql-job-store.js';

/** The PostgreSQL this machine runs for tests (trust auth); each run gets a schema of its own. */
const PG_URL = process.env['CRANK_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUN_SCHEMA = `crank_test_${process.pid}_${Date.now().toString(36)}`;

interface StoreKit {
  open(): Promise<JobStore>;
  cleanup(): Promise<void>;
}

const sqlite = (): StoreKit => {
  const dirs: string[] = [];
  return {
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'crank-jobs-'));
      dirs.push(dir);
      return new SqlJobStore(await openJobDatabase({ url: '', dataDir: dir, sync: 'normal' }));
    },
    async cleanup() {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
};

const postgres = (prefix = RUN_SCHEMA): StoreKit => {
  let n = 0;
  const schemas: string[] = [];
  return {
    async open() {
      const schema = `${prefix}_${n++}`;
      schemas.push(schema);
      return new SqlJobStore(await openJobDatabase({ url: PG_URL, dataDir: '', sync: 'normal', schema }));
    },
    async cleanup() {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      for (const schema of schemas.splice(0)) await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    },
  };
};

/** The one job a claim of a single job took, or undefined. */
const claimOne = async (
  store: JobStore,
  capabilities: readonly string[],
  now: number,
  graceMs: number,
): Promise<JobRecord | undefined> => (await store.claim(capabilities, now, graceMs))[0];

const job = (overrides: Partial<NewJob> = {}): NewJob => ({
  capability: 'debug.echo',
  range: '',
  input: { contentType: 'application/json', data: Buffer.from('{"message":"hi"}') },
  priority: 5,
  maxAttempts: 3,
  timeoutMs: 1_000,
  backoffMs: 100,
  runAt: 1_000,
  caller: 'tester',
  idempotencyKey: '',
  ...overrides,
});

describe.each([
  ['SQLite', sqlite],
  ['PostgreSQL', postgres],
] as const)('job store on %s', (_name, makeKit) => {
  const kit = makeKit();
  let store: JobStore;

  beforeEach(async () => {
    store = await kit.open();
  });
  afterEach(async () => {
    await store.close();
  });
  afterAll(async () => {
    await kit.cleanup();
  });

  it('submits a pending job with a history line, and returns the first job for a reused idempotency key', async () => {
    const first = await store.submit(job({ idempotencyKey: 'k1' }), 1_000);
    expect(first.created).toBe(true);
    expect(first.job).toMatchObject({ state: 'pending', attempts: 0, caller: 'tester', priority: 5 });
    expect(first.job.input.data.toString()).toBe('{"message":"hi"}');
    const again = await store.submit(job({ idempotencyKey: 'k1', priority: 9 }), 2_000);
    expect(again).toEqual({ job: first.job, created: false });
    // The key is the caller's own: another caller with the same key gets a job of its own.
    const other = await store.submit(job({ idempotencyKey: 'k1', caller: 'someone-else' }), 2_000);
    expect(other.created).toBe(true);
    expect((await store.timeline(first.job.id)).map((e) => [e.from, e.to])).toEqual([[undefined, 'pending']]);
  });

  it('claims the most urgent due job of the capabilities asked, once', async () => {
    const low = (await store.submit(job({ priority: 1 }), 1_000)).job;
    const high = (await store.submit(job({ priority: 9 }), 1_001)).job;
    const later = (await store.submit(job({ priority: 10, runAt: 50_000 }), 1_002)).job;
    const other = (await store.submit(job({ priority: 10, capability: 'parse.email' }), 1_003)).job;

    const first = await claimOne(store, ['debug.echo'], 2_000, 500);
    expect(first).toMatchObject({
      id: high.id,
      state: 'assigned',
      attempts: 1,
      leaseExpiresAt: 2_000 + 1_000 + 500,
    });
    expect(first?.leaseToken).not.toBe('');
    expect((await claimOne(store, ['debug.echo'], 2_000, 500))?.id).toBe(low.id);
    expect(await claimOne(store, ['debug.echo'], 2_000, 500)).toBeUndefined();
    expect((await claimOne(store, ['debug.echo'], 50_000, 500))?.id).toBe(later.id);
    expect((await claimOne(store, ['parse.email', 'debug.echo'], 50_000, 500))?.id).toBe(other.id);
    expect(await claimOne(store, [], 50_000, 500)).toBeUndefined();
  });

  it('claims several jobs in one go, most urgent first, each with a token of its own', async () => {
    for (let i = 0; i < 5; i++) await store.submit(job({ priority: i }), 1_000 + i);
    const claimed = await store.claim(['debug.echo'], 2_000, 0, 3);
    expect(claimed.map((j) => j.priority)).toEqual([4, 3, 2]);
    expect(new Set(claimed.map((j) => j.leaseToken)).size).toBe(3);
    expect((await store.claim(['debug.echo'], 2_000, 0, 10)).map((j) => j.priority)).toEqual([1, 0]);
    expect(await store.claim(['debug.echo'], 2_000, 0, 10)).toEqual([]);
  });

  it('writes an outcome only with the lease token of the running attempt', async () => {
    const { job: submitted } = await store.submit(job(), 1_000);
    const claimed = (await claimOne(store, ['debug.echo'], 1_000, 0)) as JobRecord;
    expect(await store.markProcessing(submitted.id, 'not-the-token', 'w1', 1_001)).toBe(false);
    expect(await store.markProcessing(submitted.id, claimed.leaseToken, 'w1', 1_001)).toBe(true);
    expect(await store.progress(submitted.id, 'w2', 0.5, 'half', 1_002)).toBe(false);
    expect(await store.progress(submitted.id, 'w1', 0.5, 'half', 1_002)).toBe(true);
    const output = { contentType: 'application/json', data: Buffer.from('{"ok":true}') };
    expect(await store.finish(submitted.id, 'stale', { state: 'completed', output }, 1_003)).toBe(false);
    expect(await store.finish(submitted.id, claimed.leaseToken, { state: 'completed', output }, 1_003)).toBe(
      true,
    );
    expect(await store.finish(submitted.id, claimed.leaseToken, { state: 'completed', output }, 1_004)).toBe(
      false,
    );

    const done = await store.get(submitted.id);
    expect(done).toMatchObject({
      state: 'completed',
      workerId: 'w1',
      progress: 1,
      startedAt: 1_001,
      finishedAt: 1_003,
    });
    expect(done?.output?.data.toString()).toBe('{"ok":true}');
    const timeline = await store.timeline(submitted.id);
    expect(timeline.map((e) => `${e.kind}:${e.to}`)).toEqual([
      'state:pending',
      'state:assigned',
      'state:processing',
      'progress:processing',
      'state:completed',
    ]);
    expect(timeline[3]).toMatchObject({ progress: 0.5, message: 'half', workerId: 'w1' });
  });

  it('puts a retryable failure back to pending at its next time, and keeps the error', async () => {
    const { job: submitted } = await store.submit(job(), 1_000);
    const claimed = (await claimOne(store, ['debug.echo'], 1_000, 0)) as JobRecord;
    const error = { code: 'UNAVAILABLE', message: 'no worker', retryable: true };
    expect(
      await store.finish(submitted.id, claimed.leaseToken, { state: 'pending', error, runAt: 5_000 }, 1_100),
    ).toBe(true);
    expect(await store.get(submitted.id)).toMatchObject({
      state: 'pending',
      runAt: 5_000,
      attempts: 1,
      error,
    });
    expect(await claimOne(store, ['debug.echo'], 4_999, 0)).toBeUndefined();
    expect((await claimOne(store, ['debug.echo'], 5_000, 0))?.attempts).toBe(2);
  });

  it('cancels a pending job at once and marks a running one for its controller', async () => {
    const pending = (await store.submit(job(), 1_000)).job;
    const running = (await store.submit(job({ priority: 9 }), 1_000)).job;
    await claimOne(store, ['debug.echo'], 1_000, 0);
    expect(await store.requestCancel(pending.id, 1_100)).toMatchObject({
      state: 'cancelled',
      finishedAt: 1_100,
    });
    expect(await store.requestCancel(running.id, 1_100)).toMatchObject({
      state: 'assigned',
      cancelRequested: true,
    });
    expect(await store.cancelRequested([pending.id, running.id])).toEqual([running.id]);
    expect(await store.requestCancel('nope', 1_100)).toBeUndefined();
  });

  it('retries a failed job as a new round, and refuses to retry one that is not failed', async () => {
    const { job: submitted } = await store.submit(job({ maxAttempts: 1 }), 1_000);
    const claimed = (await claimOne(store, ['debug.echo'], 1_000, 0)) as JobRecord;
    const error = { code: 'INVALID_INPUT', message: 'bad', retryable: false };
    await store.finish(submitted.id, claimed.leaseToken, { state: 'failed', error }, 1_100);
    const retried = await store.retry(submitted.id, 2_000);
    expect(retried).toMatchObject({
      state: 'pending',
      attempts: 0,
      runAt: 2_000,
      error: undefined,
      finishedAt: undefined,
    });
    await expect(store.retry(submitted.id, 2_000)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(store.retry('nope', 2_000)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('sends a job whose lease ran out back to pending, and dead-letters it on its last attempt', async () => {
    const { job: submitted } = await store.submit(job({ maxAttempts: 2 }), 1_000);
    await claimOne(store, ['debug.echo'], 1_000, 0);
    expect(await store.requeueExpired(1_999)).toBe(0);
    expect(await store.requeueExpired(2_001)).toBe(1);
    expect(await store.get(submitted.id)).toMatchObject({
      state: 'pending',
      attempts: 1,
      error: { code: 'UNAVAILABLE' },
    });
    await claimOne(store, ['debug.echo'], 2_001, 0);
    expect(await store.requeueExpired(10_000)).toBe(1);
    expect(await store.get(submitted.id)).toMatchObject({
      state: 'dead_letter',
      attempts: 2,
      finishedAt: 10_000,
    });
  });

  it('filters and pages exactly the right rows, stable under inserts', async () => {
    const made: JobRecord[] = [];
    for (let i = 0; i < 23; i++) {
      made.push(
        (
          await store.submit(
            job({ priority: i % 4, capability: i % 3 === 0 ? 'parse.email' : 'debug.echo' }),
            10_000 + i,
          )
        ).job,
      );
    }
    const pages = async (filter: Parameters<JobStore['list']>[0]): Promise<string[]> => {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list({ ...filter, limit: 5, ...(cursor ? { cursor } : {}) });
        ids.push(...page.jobs.map((j) => j.id));
        cursor = page.nextCursor;
        // A job submitted while paging must not shift what the next page returns.
        if (cursor && ids.length === 5) await store.submit(job({ priority: 2 }), 99_999);
      } while (cursor);
      return ids;
    };
    const newest = [...made].reverse().map((j) => j.id);
    expect((await pages({ order: 'created_desc', to: 50_000 })).slice(0, 23)).toEqual(newest);
    const echoMid = made.filter((j) => j.capability === 'debug.echo' && j.priority >= 1 && j.priority <= 2);
    expect(
      await pages({
        order: 'created_asc',
        capability: 'debug.echo',
        priorityMin: 1,
        priorityMax: 2,
        to: 50_000,
      }),
    ).toEqual(echoMid.map((j) => j.id));
    const byPriority = [...made]
      .sort((a, b) => b.priority - a.priority || a.createdAt - b.createdAt)
      .map((j) => j.id);
    expect(await pages({ order: 'priority_desc', to: 50_000 })).toEqual(byPriority);
    expect(await pages({ from: 10_005, to: 10_008, order: 'created_asc' })).toEqual(
      made.slice(5, 8).map((j) => j.id),
    );
    await expect(store.list({ cursor: 'garbage' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('lists history lines after an event id, in order, and purges finished jobs with their history', async () => {
    const before = await store.lastEventId();
    const a = (await store.submit(job(), 1_000)).job;
    const claimed = (await claimOne(store, ['debug.echo'], 1_000, 0)) as JobRecord;
    const output = { contentType: 'application/json', data: Buffer.from('1') };
    await store.finish(a.id, claimed.leaseToken, { state: 'completed', output }, 1_100);
    const events = await store.eventsAfter(before, 100);
    expect(events.map((e) => e.to)).toEqual(['pending', 'assigned', 'completed']);
    expect(await store.eventsAfter(events[1]?.id ?? 0, 100)).toHaveLength(1);
    expect(await store.purgeFinished(1_100, 10)).toBe(0);
    expect(await store.purgeFinished(1_101, 10)).toBe(1);
    expect(await store.get(a.id)).toBeUndefined();
    expect(await store.timeline(a.id)).toEqual([]);
  });

  it('summarises states, queue depth, success rate and timings', async () => {
    for (let i = 0; i < 4; i++) await store.submit(job(), 1_000);
    for (let i = 0; i < 4; i++) {
      const claimed = (await claimOne(store, ['debug.echo'], 2_000, 0)) as JobRecord;
      await store.markProcessing(claimed.id, claimed.leaseToken, 'w', 2_000 + i * 100);
      const outcome =
        i < 3
          ? ({ state: 'completed', output: { contentType: '', data: Buffer.alloc(0) } } as const)
          : ({ state: 'failed', error: { code: 'INVALID_INPUT', message: 'x', retryable: false } } as const);
      await store.finish(claimed.id, claimed.leaseToken, outcome, 3_000);
    }
    await store.submit(job({ capability: 'parse.email' }), 1_000);
    const summary = await store.summary(3_000, 60_000);
    expect(summary.byState).toMatchObject({ completed: 3, failed: 1, pending: 1 });
    expect(summary.queueDepth).toEqual({ 'parse.email': 1 });
    expect(summary.successRate).toBe(0.75);
    expect(summary.queueWaitMs.p50).toBeGreaterThanOrEqual(1_000);
    expect(summary.processingMs.p99).toBeLessThanOrEqual(1_000);
  });
});

describe('job store on PostgreSQL, two controllers', () => {
  const prefix = `${RUN_SCHEMA}_two`;
  const kit = postgres(prefix);
  afterAll(async () => {
    await kit.cleanup();
  });

  it('never hands one job to two controllers claiming at once', async () => {
    const first = await kit.open();
    // The second controller opens the same schema: a second pool on the same database.
    const schema = `${prefix}_0`;
    const second = new SqlJobStore(
      await openJobDatabase({ url: PG_URL, dataDir: '', sync: 'normal', schema }),
    );
    try {
      for (let i = 0; i < 200; i++) await first.submit(job({ priority: i % 10 }), 1_000);
      const claimed: string[] = [];
      const drain = async (store: JobStore): Promise<void> => {
        for (;;) {
          const next = await claimOne(store, ['debug.echo'], 2_000, 0);
          if (!next) return;
          claimed.push(next.id);
        }
      };
      await Promise.all([drain(first), drain(second), drain(first), drain(second)]);
      expect(claimed).toHaveLength(200);
      expect(new Set(claimed).size).toBe(200);
    } finally {
      await first.close();
      await second.close();
    }
  }, 60_000);
});
