import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CrankClient } from '@crank/controller-client';
import { Cluster, eventually, type RunningProcess } from './harness.js';

const BLOCKING_MAIN = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/blocking-worker.mjs');

/** Far longer than any check below takes: only a cancel that ends the thread ends it sooner. */
const BLOCK_MS = 60_000;

/**
 * A handler run with `inThreads` keeps a CPU busy without yielding, in a real worker process:
 * the worker's event loop stays free for /health, heartbeats and cancellation.
 */
describe('handlers in worker threads', () => {
  let cluster: Cluster;
  let worker: RunningProcess;
  let workerId: string;
  let workerHttp: string;
  let client: CrankClient;

  beforeAll(async () => {
    cluster = await Cluster.start({ heartbeatMs: 200 });
    worker = cluster.spawn('blocking', BLOCKING_MAIN, { CRANK_DRAIN_MS: '10000' });
    workerId = String((await worker.event('registered'))['workerId']);
    workerHttp = String((await worker.event('worker_started'))['http']);
    client = await cluster.client();
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
  });

  const health = async (): Promise<{ status: string; inFlight: number }> =>
    (await (await fetch(`${workerHttp}/health`)).json()) as { status: string; inFlight: number };

  const listed = async (): Promise<{ state: string; inFlight: number; lastHeartbeat: string }> => {
    const { workers } = (await cluster.http('/v1/workers')).body as {
      workers: { id: string; state: string; inFlight: number; lastHeartbeat: string }[];
    };
    const entry = workers.find((w) => w.id === workerId);
    if (!entry) throw new Error(`worker ${workerId} is not listed by the controller`);
    return entry;
  };

  it('returns the result computed in a thread', async () => {
    const result = await client.invoke<{ blockedMs: number; inThread: boolean }>('debug.block', { ms: 50 });
    expect(result.workerId).toBe(workerId);
    expect(result.output.inThread).toBe(true);
    expect(result.output.blockedMs).toBeGreaterThanOrEqual(50);
  });

  it("keeps a CapabilityError's code from the thread to the caller", async () => {
    await expect(client.invoke('debug.block', { ms: 0, fail: 'UNSUPPORTED_FORMAT' })).rejects.toMatchObject({
      code: 'UNSUPPORTED_FORMAT',
      message: 'fail: asked to fail with UNSUPPORTED_FORMAT',
    });
  });

  it('answers /health, keeps heartbeating and takes a cancel while a call blocks its thread', async () => {
    const abort = new AbortController();
    const call = client.invoke('debug.block', { ms: BLOCK_MS }, { signal: abort.signal });
    const outcome = call.then(
      () => undefined,
      (error: unknown) => error,
    );

    // The call is running on the worker (its own count), so its thread is spinning from here on.
    await eventually(async () => (await health()).inFlight === 1);

    // /health answers, again and again, while the thread spins.
    for (let i = 0; i < 5; i++) expect(await health()).toMatchObject({ status: 'serving', inFlight: 1 });

    // Heartbeats keep arriving: the controller's lastHeartbeat moves on twice, and the worker
    // stays in rotation (a worker whose event loop was blocked would be evicted as silent).
    const seen = new Set([(await listed()).lastHeartbeat]);
    await eventually(async () => seen.add((await listed()).lastHeartbeat).size >= 3);
    expect((await listed()).state).not.toMatch(/gone|unhealthy/);
    expect((await health()).inFlight).toBe(1);

    // Cancel: the caller sees CANCELLED, and on the worker the thread is ended and the slot freed
    // long before the block would have ended.
    abort.abort();
    expect(await outcome).toMatchObject({ code: 'CANCELLED' });
    await eventually(async () => (await health()).inFlight === 0);
    await eventually(async () => (await listed()).inFlight === 0);

    // The pool has one thread: this call runs only because the cancelled task's thread is gone.
    const next = await client.invoke<{ blockedMs: number }>('debug.block', { ms: 10 });
    expect(next.workerId).toBe(workerId);
    expect(next.output.blockedMs).toBeGreaterThanOrEqual(10);
    expect((await health()).inFlight).toBe(0);
  }, 45_000);
});
