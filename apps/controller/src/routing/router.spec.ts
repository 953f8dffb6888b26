import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  CrankError,
  DEBUG_ECHO,
  builtinCatalog,
  defineCapability,
  type Capability,
} from '@crank/capabilities';
import { HeartbeatRequest, RegisterRequest, WorkerPhase } from '@crank/proto';
import { pino } from 'pino';
import { descriptorOf } from '../../test/descriptors.js';
import { workerState } from '../registry/worker-record.js';
import { WorkerRegistry } from '../registry/worker-registry.js';
import { OutlierDetector } from './outlier-detector.js';
import { Router, type AcquireOptions, type Lease, type RouterOptions } from './router.js';

/** The key fingerprint a test worker registers with. */
const KEY = 'key-a';
const HEARTBEAT_MS = 1_000;
const STUCK_MS = 5_000;
const ECHO = DEBUG_ECHO.id;

/** debug.echo with two slots per worker, so that tests fill a worker with two calls. */
const ECHO_TWO_SLOTS = defineCapability({
  ...DEBUG_ECHO.definition,
  resources: { ...DEBUG_ECHO.definition.resources, maxConcurrency: 2 },
});

/** Settles to the lease's worker id, or to the error: lets a test look at a pending call. */
function track(call: Promise<Lease>): {
  readonly result: string | CrankError | undefined;
  done: Promise<void>;
} {
  const tracked: { result: string | CrankError | undefined; done: Promise<void> } = {
    result: undefined,
    done: Promise.resolve(),
  };
  tracked.done = call.then(
    (lease) => {
      tracked.result = lease.worker.id;
    },
    (error: unknown) => {
      tracked.result = error as CrankError;
    },
  );
  return tracked;
}

// Queue timeouts and breaker cooldowns read the real clock; fake time keeps the waits short and exact.
describe('Router', () => {
  let registry: WorkerRegistry;
  let router: Router;

  const setUp = (options: Partial<RouterOptions> = {}): void => {
    registry = new WorkerRegistry({
      catalog: builtinCatalog(),
      heartbeatIntervalMs: HEARTBEAT_MS,
      missedHeartbeats: 3,
      stuckAfterMs: STUCK_MS,
      logger: pino({ level: 'silent' }),
      now: () => Date.now(),
    });
    router = new Router(registry, {
      queueLimit: 10,
      queueTimeoutMs: 30_000,
      breakerFailureThreshold: 3,
      breakerCooldownMs: 10_000,
      ...options,
    });
  };

  const addWorker = (
    workerId: string,
    options: { gpu?: boolean; capabilities?: Capability[] } = {},
  ): void => {
    registry.register(
      RegisterRequest.fromPartial({
        workerId,
        address: `10.0.0.1:${9000 + registry.list().length}`,
        capabilities: (options.capabilities ?? [DEBUG_ECHO]).map((c) => descriptorOf(c)),
        gpu: options.gpu ?? false,
      }),
      KEY,
    );
  };

  /** Worker ids chosen by `n` calls, each released before the next. */
  const sequentialPicks = async (n: number, options: AcquireOptions = {}): Promise<string[]> => {
    const picks: string[] = [];
    for (let i = 0; i < n; i += 1) {
      const lease = await router.acquire(ECHO, '^1', options);
      picks.push(lease.worker.id);
      lease.release('answered');
    }
    return picks;
  };

  beforeEach(() => {
    jest.useFakeTimers();
    setUp();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  describe('resolve', () => {
    it('answers NOT_FOUND for a capability no worker offers', () => {
      addWorker('w1');
      const attempt = () => router.resolve('nope.nothing', '^1');
      expect(attempt).toThrow(CrankError);
      expect(attempt).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
      expect(attempt).toThrow('capability "nope.nothing" is not offered by any worker');
    });

    it('answers NOT_FOUND naming the available versions when none is in range', () => {
      addWorker('w1', {
        capabilities: [DEBUG_ECHO, defineCapability({ ...DEBUG_ECHO.definition, version: '1.4.0' })],
      });
      const attempt = () => router.resolve(ECHO, '^2');
      expect(attempt).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
      expect(attempt).toThrow(
        'capability "debug.echo" has no version matching "^2"; available: 1.4.0, 1.0.0',
      );
    });

    it('picks the highest offered version in range', () => {
      addWorker('w1', {
        capabilities: [DEBUG_ECHO, defineCapability({ ...DEBUG_ECHO.definition, version: '1.4.0' })],
      });
      expect(router.resolve(ECHO, '^1').version).toBe('1.4.0');
      expect(router.resolve(ECHO, '~1.0').version).toBe('1.0.0');
    });
  });

  describe('choosing a worker', () => {
    it('leases the version in range and counts the call as in flight until released', async () => {
      addWorker('w1');
      const lease = await router.acquire(ECHO, '^1');
      expect(lease.worker.id).toBe('w1');
      expect(lease.capability.key).toBe('debug.echo@1.0.0');
      expect(lease.worker.ledger.inFlight.get(lease.capability.key) ?? 0).toBe(1);

      lease.release('answered');
      lease.release('answered');
      expect(lease.worker.ledger.inFlight.get(lease.capability.key) ?? 0).toBe(0);
    });

    it("keeps the worker's last 50 finished calls with the code each ended with", async () => {
      addWorker('w1');
      (await router.acquire(ECHO, '^1')).release('answered', 2.5);
      (await router.acquire(ECHO, '^1')).release('fault', 1, 'CONTRACT_VIOLATION');
      (await router.acquire(ECHO, '^1')).release('timeout');
      for (let i = 0; i < 60; i += 1) (await router.acquire(ECHO, '^1')).release('abandoned');

      const recent = registry.get('w1')?.ledger.recent ?? [];
      expect(recent).toHaveLength(50);
      expect(recent.at(-1)).toMatchObject({ capability: 'debug.echo@1.0.0', code: 'CANCELLED' });

      setUp();
      addWorker('w1');
      (await router.acquire(ECHO, '^1')).release('answered', 2.5);
      (await router.acquire(ECHO, '^1')).release('fault', 1, 'CONTRACT_VIOLATION');
      (await router.acquire(ECHO, '^1')).release('timeout');
      expect(registry.get('w1')?.ledger.recent.map(({ code, latencyMs }) => ({ code, latencyMs }))).toEqual([
        { code: 'ok', latencyMs: 2.5 },
        { code: 'CONTRACT_VIOLATION', latencyMs: 1 },
        { code: 'DEADLINE_EXCEEDED', latencyMs: undefined },
      ]);
    });

    it('sends the call to the worker with fewer calls in flight', async () => {
      addWorker('a');
      addWorker('b');
      const held = [await router.acquire(ECHO, '^1'), await router.acquire(ECHO, '^1')];
      expect(new Set(held.map((l) => l.worker.id))).toEqual(new Set(['a', 'b']));

      const third = await router.acquire(ECHO, '^1');
      const lighter = third.worker.id === 'a' ? 'b' : 'a';
      const fourth = await router.acquire(ECHO, '^1');
      expect(fourth.worker.id).toBe(lighter);
    });

    it('lets equal workers take turns', async () => {
      addWorker('a');
      addWorker('b');
      const picks = await sequentialPicks(10);
      expect(picks.filter((id) => id === 'a').length).toBeGreaterThan(0);
      expect(picks.filter((id) => id === 'b').length).toBeGreaterThan(0);
    });

    it('prefers a GPU worker over a CPU one when both are free', async () => {
      addWorker('cpu');
      addWorker('gpu', { gpu: true });
      expect(await sequentialPicks(6)).toEqual(Array(6).fill('gpu'));
    });

    it('passes over a worker whose recent latency is much higher', async () => {
      addWorker('slow');
      addWorker('fast');
      for (const lease of [await router.acquire(ECHO, '^1'), await router.acquire(ECHO, '^1')]) {
        lease.release('answered', lease.worker.id === 'slow' ? 900 : 50);
      }
      expect(await sequentialPicks(6)).toEqual(Array(6).fill('fast'));
    });

    it('skips excluded workers', async () => {
      addWorker('a');
      addWorker('b');
      expect(await sequentialPicks(4, { exclude: new Set(['a']) })).toEqual(Array(4).fill('b'));
    });

    it('skips a draining worker', async () => {
      addWorker('a');
      addWorker('b');
      registry.heartbeat(
        HeartbeatRequest.fromPartial({ workerId: 'a', phase: WorkerPhase.WORKER_PHASE_DRAINING }),
        KEY,
      );
      expect(await sequentialPicks(4)).toEqual(Array(4).fill('b'));
    });

    it('skips a stuck worker', async () => {
      addWorker('a', { capabilities: [ECHO_TWO_SLOTS] });
      addWorker('b', { capabilities: [ECHO_TWO_SLOTS] });
      await router.acquire(ECHO, '^1', { exclude: new Set(['b']) });
      jest.setSystemTime(Date.now() + STUCK_MS + 1);
      for (const workerId of ['a', 'b']) registry.heartbeat(HeartbeatRequest.fromPartial({ workerId }), KEY);
      expect(registry.get('a')?.stuck).toBe(true);
      expect(await sequentialPicks(4)).toEqual(Array(4).fill('b'));
    });

    it('skips a capability the worker reports as not ready', async () => {
      addWorker('a');
      addWorker('b');
      registry.heartbeat(
        HeartbeatRequest.fromPartial({
          workerId: 'a',
          status: [{ id: ECHO, ready: false, reason: 'loading' }],
        }),
        KEY,
      );
      expect(await sequentialPicks(4)).toEqual(Array(4).fill('b'));
    });
  });

  describe('waiting for a slot', () => {
    const fillWorker = async (): Promise<Lease[]> => [
      await router.acquire(ECHO, '^1'),
      await router.acquire(ECHO, '^1'),
    ];

    it('queues a call while every slot is busy and hands it the first slot released', async () => {
      addWorker('w1', { capabilities: [ECHO_TWO_SLOTS] });
      const [first] = await fillWorker();

      const waiting = track(router.acquire(ECHO, '^1'));
      await jest.advanceTimersByTimeAsync(1_000);
      expect(waiting.result).toBeUndefined();
      expect(router.queueDepths().get(ECHO)).toBe(1);

      first?.release('answered');
      await waiting.done;
      expect(waiting.result).toBe('w1');
      expect(router.queueDepths().get(ECHO)).toBe(0);
    });

    it('hands a queued call to a worker that registers while it waits', async () => {
      addWorker('w1', { capabilities: [ECHO_TWO_SLOTS] });
      await fillWorker();
      const waiting = track(router.acquire(ECHO, '^1'));

      addWorker('w2');
      await waiting.done;
      expect(waiting.result).toBe('w2');
    });

    it('refuses a call with RESOURCE_EXHAUSTED once the queue is full', async () => {
      setUp({ queueLimit: 2 });
      addWorker('w1', { capabilities: [ECHO_TWO_SLOTS] });
      const leases = await fillWorker();
      const queued = [track(router.acquire(ECHO, '^1')), track(router.acquire(ECHO, '^1'))];

      const refused = router.acquire(ECHO, '^1');
      await expect(refused).rejects.toBeInstanceOf(CrankError);
      await expect(refused).rejects.toMatchObject({
        code: 'RESOURCE_EXHAUSTED',
        message: 'capability "debug.echo": all workers busy and 2 calls already waiting',
      });

      for (const lease of leases) lease.release('answered');
      await Promise.all(queued.map((q) => q.done));
      expect(queued.map((q) => q.result)).toEqual(['w1', 'w1']);
    });

    it('fails a waiting call with DEADLINE_EXCEEDED when its deadline passes', async () => {
      addWorker('w1', { capabilities: [ECHO_TWO_SLOTS] });
      await fillWorker();
      const waiting = track(router.acquire(ECHO, '^1', { deadlineMs: Date.now() + 500 }));

      await jest.advanceTimersByTimeAsync(499);
      expect(waiting.result).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1);

      expect(waiting.result).toBeInstanceOf(CrankError);
      expect(waiting.result).toMatchObject({
        code: 'DEADLINE_EXCEEDED',
        message: expect.stringMatching(/no worker slot freed within 500 ms/),
      });
      expect(router.queueDepths().get(ECHO)).toBe(0);
    });

    it('uses the queue timeout when the caller set no deadline', async () => {
      setUp({ queueTimeoutMs: 2_000 });
      addWorker('w1', { capabilities: [ECHO_TWO_SLOTS] });
      await fillWorker();
      const waiting = track(router.acquire(ECHO, '^1'));

      await jest.advanceTimersByTimeAsync(2_000);
      expect(waiting.result).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    });

    it('fails a waiting call with UNAVAILABLE when no live worker remains', async () => {
      addWorker('w1', { capabilities: [ECHO_TWO_SLOTS] });
      await fillWorker();
      const waiting = track(router.acquire(ECHO, '^1', { deadlineMs: Date.now() + 500 }));
      registry.deregister('w1', 'shutdown', KEY);

      await jest.advanceTimersByTimeAsync(500);
      expect(waiting.result).toBeInstanceOf(CrankError);
      expect(waiting.result).toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/no healthy worker within 500 ms/),
      });
    });

    it('fails a waiting call with CANCELLED when the caller aborts', async () => {
      addWorker('w1', { capabilities: [ECHO_TWO_SLOTS] });
      const [first] = await fillWorker();
      const controller = new AbortController();
      const waiting = track(router.acquire(ECHO, '^1', { signal: controller.signal }));

      controller.abort();
      await waiting.done;
      expect(waiting.result).toBeInstanceOf(CrankError);
      expect(waiting.result).toMatchObject({ code: 'CANCELLED', message: 'the caller cancelled the call' });
      expect(router.queueDepths().get(ECHO)).toBe(0);

      // The freed slot is not taken by the cancelled call.
      first?.release('answered');
      expect(first?.worker.ledger.inFlight.get('debug.echo@1.0.0')).toBe(1);
    });

    it('refuses a call whose signal is already aborted, even with a free slot', async () => {
      addWorker('w1', { capabilities: [ECHO_TWO_SLOTS] });
      await expect(router.acquire(ECHO, '^1', { signal: AbortSignal.abort() })).rejects.toMatchObject({
        code: 'CANCELLED',
      });
      expect(registry.get('w1')?.ledger.inFlight.get('debug.echo@1.0.0') ?? 0).toBe(0);
    });

    it('does not let a waiter that cannot use the freed worker block the waiters behind it', async () => {
      addWorker('a', { capabilities: [ECHO_TWO_SLOTS] });
      addWorker('b', { capabilities: [ECHO_TWO_SLOTS] });
      const held = await Promise.all(Array.from({ length: 4 }, () => router.acquire(ECHO, '^1')));
      const picky = track(router.acquire(ECHO, '^1', { exclude: new Set(['a']) }));
      const anyWorker = track(router.acquire(ECHO, '^1'));

      held.find((lease) => lease.worker.id === 'a')?.release('answered');
      await anyWorker.done;
      expect(anyWorker.result).toBe('a');
      expect(picky.result).toBeUndefined();

      held.find((lease) => lease.worker.id === 'b')?.release('answered');
      await picky.done;
      expect(picky.result).toBe('b');
    });

    it('reports queue depth per capability', async () => {
      addWorker('w1', { capabilities: [ECHO_TWO_SLOTS] });
      await fillWorker();
      const waiting = [track(router.acquire(ECHO, '^1')), track(router.acquire(ECHO, '^1'))];
      expect(router.queueDepths()).toEqual(new Map([[ECHO, 2]]));
      registry.deregister('w1', 'test over', KEY);
      await jest.advanceTimersByTimeAsync(30_000);
      await Promise.all(waiting.map((w) => w.done));
      expect(router.queueDepths()).toEqual(new Map([[ECHO, 0]]));
    });
  });

  describe('circuit breaker', () => {
    const failOn = async (workerId: string, other: string, times: number): Promise<void> => {
      for (let i = 0; i < times; i += 1) {
        const lease = await router.acquire(ECHO, '^1', { exclude: new Set([other]) });
        expect(lease.worker.id).toBe(workerId);
        lease.release('fault');
      }
    };

    it('stops routing to a worker after consecutive failures', async () => {
      addWorker('bad');
      addWorker('good');
      await failOn('bad', 'good', 2);
      expect(router.outOfRotation('bad')).toBe(false);
      await failOn('bad', 'good', 1);

      expect(router.outOfRotation('bad')).toBe(true);
      expect(router.outOfRotation('good')).toBe(false);
      const bad = registry.get('bad');
      expect(bad && workerState(bad, router.outOfRotation('bad'))).toBe('unhealthy');
      expect(await sequentialPicks(4)).toEqual(Array(4).fill('good'));
    });

    it('sends one trial call after the cooldown and routes again once it succeeds', async () => {
      addWorker('bad');
      addWorker('good');
      await failOn('bad', 'good', 3);

      await jest.advanceTimersByTimeAsync(10_000);
      expect(router.outOfRotation('bad')).toBe(false);
      const trial = await router.acquire(ECHO, '^1', { exclude: new Set(['good']) });
      expect(trial.worker.id).toBe('bad');
      expect(router.outOfRotation('bad')).toBe(true);

      trial.release('answered');
      expect(router.outOfRotation('bad')).toBe(false);
      expect(new Set(await sequentialPicks(6))).toEqual(new Set(['bad', 'good']));
    });

    it('does not count a timed-out call against the worker', async () => {
      addWorker('slow');
      addWorker('other');
      for (let i = 0; i < 5; i += 1) {
        const lease = await router.acquire(ECHO, '^1', { exclude: new Set(['other']) });
        lease.release('timeout');
      }
      expect(router.outOfRotation('slow')).toBe(false);
    });

    it('forgets the failures of a worker that deregisters and comes back', async () => {
      addWorker('bad');
      addWorker('good');
      await failOn('bad', 'good', 3);
      registry.deregister('bad', 'restart', KEY);
      addWorker('bad');
      expect(router.outOfRotation('bad')).toBe(false);
    });
  });

  describe('re-registration', () => {
    it('frees slots leased before the worker registered again (one owner of in-flight counts)', async () => {
      addWorker('w1', { capabilities: [ECHO_TWO_SLOTS] });
      const leases = [await router.acquire(ECHO, '^1'), await router.acquire(ECHO, '^1')];
      const before = registry.get('w1');
      expect(before && workerState(before, false)).toBe('busy');

      registry.register(
        RegisterRequest.fromPartial({
          workerId: 'w1',
          address: '10.0.0.1:9000',
          capabilities: [descriptorOf(ECHO_TWO_SLOTS)],
        }),
        KEY,
      );
      for (const lease of leases) lease.release('answered');

      const after = registry.get('w1');
      expect(after && after !== before).toBe(true);
      expect(after?.ledger.inFlight.get('debug.echo@1.0.0') ?? 0).toBe(0);
      expect(after && workerState(after, false)).toBe('ready');
      expect(after?.ledger.completed).toBe(2);
    });
  });

  describe('admission and absence', () => {
    it('refuses at once when every slot is busy and the queue is full', async () => {
      setUp({ queueLimit: 1 });
      addWorker('w1');
      await Promise.all([
        router.acquire(ECHO, '^1'),
        router.acquire(ECHO, '^1'),
        router.acquire(ECHO, '^1'),
        router.acquire(ECHO, '^1'),
      ]);
      expect(() => router.admit(ECHO, '^1')).not.toThrow();
      void router.acquire(ECHO, '^1').catch(() => undefined);
      expect(() => router.admit(ECHO, '^1')).toThrow(
        expect.objectContaining({
          code: 'RESOURCE_EXHAUSTED',
          details: expect.objectContaining({ retryAfterSeconds: 1 }),
        }),
      );
    });

    it('answers UNAVAILABLE, not NOT_FOUND, for a catalog capability with no worker yet', () => {
      const attempt = () => router.resolve('classify.email', '');
      expect(attempt).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }));
      expect(() => router.resolve('no.such', '')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    });

    it('cuts a huge name out of the error it echoes', () => {
      addWorker('w1');
      let message = '';
      try {
        router.resolve(`x.${'y'.repeat(40_000)}`, '');
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message.length).toBeLessThan(300);
    });
  });

  describe('outlier detection', () => {
    it('ejects a worker whose calls keep timing out while another answers, and restores it once a probe passes', async () => {
      let serving = false;
      const outliers = new OutlierDetector(
        {
          consecutiveTimeouts: 3,
          baseEjectionMs: 5_000,
          probeIntervalMs: 1_000,
          logger: pino({ level: 'silent' }),
        },
        () => Promise.resolve(serving),
      );
      setUp({ outliers });
      addWorker('hung');
      addWorker('fine');
      for (let i = 0; i < 3; i += 1) {
        const lease = await router.acquire(ECHO, '^1', { exclude: new Set(['fine']) });
        lease.release('timeout');
      }
      expect(router.outOfRotation('hung')).toBe(true);
      expect(await sequentialPicks(4)).toEqual(Array(4).fill('fine'));

      await jest.advanceTimersByTimeAsync(6_000);
      expect(router.outOfRotation('hung')).toBe(true);
      serving = true;
      await jest.advanceTimersByTimeAsync(1_000);
      expect(router.outOfRotation('hung')).toBe(false);
      outliers.stop();
    });

    it('never ejects the only worker of a capability', async () => {
      const outliers = new OutlierDetector(
        {
          consecutiveTimeouts: 1,
          baseEjectionMs: 5_000,
          probeIntervalMs: 1_000,
          logger: pino({ level: 'silent' }),
        },
        () => Promise.resolve(false),
      );
      setUp({ outliers });
      addWorker('alone');
      (await router.acquire(ECHO, '^1')).release('timeout');
      expect(router.outOfRotation('alone')).toBe(false);
      outliers.stop();
    });
  });
});
