import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { pino } from 'pino';
import { HeartbeatLoop, type RegistrationPort } from './heartbeat-loop.js';

const INTERVAL_MS = 1_000;

type Call = { kind: 'register' | 'heartbeat'; at: number };

/** A controller connection that records each call and answers as the test says. */
class FakePort implements RegistrationPort {
  readonly calls: Call[] = [];
  /** While set, every call rejects with this error. */
  failure: Error | undefined;
  /** Answers for the next heartbeats; an empty list answers with the interval. */
  readonly heartbeatReplies: (number | 'not-found')[] = [];
  intervalMs = INTERVAL_MS;

  register(): Promise<number> {
    this.calls.push({ kind: 'register', at: Date.now() });
    return this.failure ? Promise.reject(this.failure) : Promise.resolve(this.intervalMs);
  }

  heartbeat(): Promise<number | 'not-found'> {
    this.calls.push({ kind: 'heartbeat', at: Date.now() });
    if (this.failure) return Promise.reject(this.failure);
    return Promise.resolve(this.heartbeatReplies.shift() ?? this.intervalMs);
  }

  kinds(): string[] {
    return this.calls.map((c) => c.kind);
  }

  /** Time between consecutive calls. */
  gaps(): number[] {
    return this.calls.slice(1).map((call, i) => call.at - (this.calls[i] as Call).at);
  }
}

describe('HeartbeatLoop', () => {
  let port: FakePort;
  let registrations: boolean[];
  let loop: HeartbeatLoop;
  let startedAt: number;

  beforeEach(() => {
    jest.useFakeTimers();
    startedAt = Date.now();
    port = new FakePort();
    registrations = [];
    loop = new HeartbeatLoop(port, {
      intervalMs: INTERVAL_MS,
      maxBackoffMs: 5_000,
      logger: pino({ level: 'silent' }),
      onRegistered: (registered) => registrations.push(registered),
    });
  });

  afterEach(async () => {
    await loop.stop();
    jest.restoreAllMocks();
    jest.useRealTimers();
  });

  it('registers at once, then beats once per interval (up to 10% early)', async () => {
    loop.start();
    await jest.advanceTimersByTimeAsync(0);
    expect(port.kinds()).toEqual(['register']);
    expect(port.calls[0]?.at).toBe(startedAt);
    expect(loop.isRegistered).toBe(true);

    await jest.advanceTimersByTimeAsync(5 * INTERVAL_MS);
    expect(port.kinds().slice(0, 6)).toEqual(['register', ...Array(5).fill('heartbeat')]);
    for (const gap of port.gaps()) {
      expect(gap).toBeGreaterThanOrEqual(0.9 * INTERVAL_MS);
      expect(gap).toBeLessThanOrEqual(INTERVAL_MS);
    }
  });

  it('beats at the interval the controller answers', async () => {
    port.intervalMs = 200;
    loop.start();
    await jest.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(port.kinds().filter((k) => k === 'heartbeat').length).toBeGreaterThanOrEqual(5);
    for (const gap of port.gaps()) expect(gap).toBeLessThanOrEqual(200);
  });

  it('registers again at once when a heartbeat is answered not-found', async () => {
    port.heartbeatReplies.push(INTERVAL_MS, 'not-found');
    loop.start();
    await jest.advanceTimersByTimeAsync(2 * INTERVAL_MS);

    expect(port.kinds().slice(0, 4)).toEqual(['register', 'heartbeat', 'heartbeat', 'register']);
    const [, , notFound, reRegister] = port.calls;
    // A zero-delay timer: the next tick, not the next interval.
    expect((reRegister?.at ?? Infinity) - (notFound?.at ?? 0)).toBeLessThanOrEqual(1);
    expect(registrations).toEqual([true, false, true]);
    expect(loop.isRegistered).toBe(true);
  });

  it('backs off while the controller fails, never waiting longer than the interval', async () => {
    // The longest delay backoff and jitter may pick, so the schedule is exact.
    jest.spyOn(Math, 'random').mockReturnValue(1);
    port.failure = new Error('connect ECONNREFUSED');
    loop.start();
    await jest.advanceTimersByTimeAsync(10 * INTERVAL_MS);

    expect(new Set(port.kinds())).toEqual(new Set(['register']));
    expect(loop.isRegistered).toBe(false);
    expect(port.gaps().slice(0, 7)).toEqual([100, 200, 400, 800, INTERVAL_MS, INTERVAL_MS, INTERVAL_MS]);

    port.failure = undefined;
    await jest.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(loop.isRegistered).toBe(true);
    expect(registrations).toEqual([true]);
  });

  it('keeps beating after failed heartbeats without registering again', async () => {
    loop.start();
    await jest.advanceTimersByTimeAsync(0);
    port.failure = new Error('deadline exceeded');
    await jest.advanceTimersByTimeAsync(3 * INTERVAL_MS);
    port.failure = undefined;
    await jest.advanceTimersByTimeAsync(2 * INTERVAL_MS);

    expect(port.kinds().filter((k) => k === 'register')).toHaveLength(1);
    expect(port.kinds().at(-1)).toBe('heartbeat');
    expect(registrations).toEqual([true]);
  });

  it('skips the first registration when started with the interval already answered', async () => {
    loop.start(500);
    expect(loop.isRegistered).toBe(true);
    expect(registrations).toEqual([true]);

    await jest.advanceTimersByTimeAsync(500);
    expect(port.kinds()).toEqual(['heartbeat']);
    expect(port.calls[0]?.at).toBeGreaterThanOrEqual(startedAt + 450);
  });

  it('makes no more calls once stopped', async () => {
    loop.start();
    await jest.advanceTimersByTimeAsync(2 * INTERVAL_MS);
    await loop.stop();
    const made = port.calls.length;

    await jest.advanceTimersByTimeAsync(10 * INTERVAL_MS);
    expect(port.calls).toHaveLength(made);
  });

  it('sends a beat on demand outside the schedule', async () => {
    loop.start(INTERVAL_MS);
    await loop.beatNow();
    expect(port.kinds()).toEqual(['heartbeat']);
    expect(port.calls[0]?.at).toBe(startedAt);
  });

  it('beats at once on beatNow() and keeps a single chain of beats afterwards', async () => {
    loop.start(INTERVAL_MS);
    await jest.advanceTimersByTimeAsync(100);
    await loop.beatNow();
    expect(port.kinds()).toEqual(['heartbeat']);
    // About one beat per interval from here on: a second chain would double the count.
    await jest.advanceTimersByTimeAsync(3 * INTERVAL_MS);
    expect(port.calls.length).toBeGreaterThanOrEqual(3);
    expect(port.calls.length).toBeLessThanOrEqual(5);
    await loop.stop();
    const afterStop = port.calls.length;
    await jest.advanceTimersByTimeAsync(3 * INTERVAL_MS);
    expect(port.calls.length).toBe(afterStop);
  });
});
