import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CrankError } from '@crank/capabilities';
import { pino } from 'pino';
import type { InvocationService, InvokeCall, InvokeResult } from '../invoke/invocation-service.js';
import type { Router } from '../routing/router.js';
import { openJobDatabase } from './job-database.js';
import { JobDispatcher } from './job-dispatcher.js';
import type { JobStore, NewJob } from './job-store.js';
import { SqlJobStore } from './sql-job-store.js';

/** A router with `capacity` slots for `test.cap`, each taken by a call in progress. */
class FakeRouter {
  capacity = 0;
  constructor(private readonly invocations: FakeInvocations) {}
  freeSlots(): Map<string, number> {
    const free = this.capacity - this.invocations.active;
    return free > 0 ? new Map([['test.cap', free]]) : new Map();
  }
}

/** Invocations that wait until the test settles them, each by job id. */
class FakeInvocations {
  readonly calls = new Map<string, { call: InvokeCall; settle: (error?: Error) => void }>();
  active = 0;
  invoke(call: InvokeCall): Promise<InvokeResult> {
    call.onDispatched?.('worker-1');
    this.active += 1;
    return new Promise((resolve, reject) => {
      const settle = (error?: Error): void => {
        this.active -= 1;
        if (error) reject(error);
        else
          resolve({
            output: { contentType: 'application/json', data: Buffer.from('{"ok":true}') },
            workerId: 'worker-1',
            version: '1.0.0',
          });
      };
      const signal = call.signal as AbortSignal | undefined; // the dispatcher passes an AbortSignal
      signal?.addEventListener('abort', () => settle(signal.reason as Error), { once: true });
      this.calls.set(call.jobId ?? '', { call, settle });
    });
  }
}

const job = (overrides: Partial<NewJob> = {}): NewJob => ({
  capability: 'test.cap',
  range: '',
  input: { contentType: 'application/json', data: Buffer.from('{}') },
  priority: 5,
  maxAttempts: 2,
  timeoutMs: 10_000,
  backoffMs: 10,
  runAt: Date.now(),
  caller: 'tester',
  idempotencyKey: '',
  ...overrides,
});

const until = async (check: () => boolean | Promise<boolean>): Promise<void> => {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('condition not met');
};

describe('JobDispatcher', () => {
  let dir: string;
  let store: JobStore;
  let router: FakeRouter;
  let invocations: FakeInvocations;
  let dispatcher: JobDispatcher;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crank-dispatch-'));
    store = new SqlJobStore(await openJobDatabase({ url: '', dataDir: dir, sync: 'normal' }));
    invocations = new FakeInvocations();
    router = new FakeRouter(invocations);
    dispatcher = new JobDispatcher({
      store,
      invocations: invocations as unknown as InvocationService,
      router: router as unknown as Router,
      logger: pino({ level: 'silent' }),
      leaseGraceMs: 1_000,
      pollIntervalMs: 60_000,
      retentionMs: 86_400_000,
    });
    await dispatcher.start();
  });

  afterEach(async () => {
    await dispatcher.stop(0);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs no more jobs than there are free slots, and the next one as soon as a slot frees', async () => {
    router.capacity = 1;
    const a = (await store.submit(job({ priority: 9 }), Date.now())).job;
    dispatcher.wake(true);
    await until(() => invocations.calls.has(a.id));
    // Submitted while every slot is busy: it waits, and a wake while busy does not forget it.
    const b = (await store.submit(job({ priority: 1 }), Date.now())).job;
    dispatcher.wake(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(invocations.calls.has(b.id)).toBe(false);

    invocations.calls.get(a.id)?.settle();
    await until(async () => (await store.get(a.id))?.state === 'completed');
    // The slot freed with `a`'s end: the waiting job runs without any other event.
    await until(() => invocations.calls.has(b.id));
    invocations.calls.get(b.id)?.settle();
    await until(async () => (await store.get(b.id))?.state === 'completed');
    expect((await store.timeline(b.id)).map((e) => e.to)).toEqual([
      'pending',
      'assigned',
      'processing',
      'completed',
    ]);
  });

  it('tries a retryable failure again, then dead-letters it; fails a permanent one at once', async () => {
    router.capacity = 4;
    const retried = (await store.submit(job(), Date.now())).job;
    const permanent = (await store.submit(job(), Date.now())).job;
    dispatcher.wake(true);
    await until(() => invocations.calls.has(retried.id) && invocations.calls.has(permanent.id));
    invocations.calls.get(permanent.id)?.settle(new CrankError('INVALID_INPUT', 'bad'));
    invocations.calls.get(retried.id)?.settle(new CrankError('UNAVAILABLE', 'down'));
    invocations.calls.delete(retried.id);
    await until(async () => (await store.get(permanent.id))?.state === 'failed');
    await until(() => invocations.calls.has(retried.id));
    invocations.calls.get(retried.id)?.settle(new CrankError('UNAVAILABLE', 'down again'));
    await until(async () => (await store.get(retried.id))?.state === 'dead_letter');
    expect(await store.get(retried.id)).toMatchObject({ attempts: 2, error: { code: 'UNAVAILABLE' } });
  });

  it('cancels a running attempt through its signal', async () => {
    router.capacity = 1;
    const running = (await store.submit(job(), Date.now())).job;
    dispatcher.wake(true);
    await until(() => invocations.calls.has(running.id));
    await store.requestCancel(running.id, Date.now());
    expect(dispatcher.cancelLocal(running.id)).toBe(true);
    await until(async () => (await store.get(running.id))?.state === 'cancelled');
    expect(invocations.calls.get(running.id)?.call.signal?.aborted).toBe(true);
  });
});
