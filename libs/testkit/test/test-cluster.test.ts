import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestCluster, type TestCluster } from '../src/index.js';
import { REVERSE, reverse, waitPolitely } from './fixtures.js';

/** Handles that keep a process alive: servers, sockets, timers (unref'd ones are not listed). */
function liveHandles(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((r) => /TCP|Timeout|Pipe|TLS|UDP/.test(r))
    .sort();
}

describe('startTestCluster', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster({
      worker: { name: 'reverse', capabilities: [reverse, waitPolitely] },
    });
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('routes calls to the worker under test over mTLS, through the embedded controller', async () => {
    const result = await cluster.client.invoke(REVERSE, { text: 'abc' });
    expect(result).toMatchObject({ output: { text: 'cba' }, workerId: cluster.worker.id, version: '1.0.0' });
    expect(cluster.worker.id).toMatch(/^reverse-[0-9a-f]{6}$/);
    expect(cluster.grpcAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(cluster.controller.grpcAddress).toBe(cluster.grpcAddress);
  });

  it('serves the HTTP API at httpUrl, listing the worker as ready', async () => {
    const res = await fetch(`${cluster.httpUrl}/v1/workers`, { headers: { connection: 'close' } });
    const body = (await res.json()) as { workers?: { id: string; state: string }[] } | { id: string }[];
    const workers = Array.isArray(body) ? body : (body.workers ?? []);
    expect(workers).toEqual([expect.objectContaining({ id: cluster.worker.id, state: 'ready' })]);
  });

  it('keeps the CA, the token and the client keys in its own temp data dir', () => {
    expect(cluster.dataDir).toContain('crank-testkit-');
    expect(existsSync(`${cluster.dataDir}/ca.crt`)).toBe(true);
    expect(existsSync(`${cluster.dataDir}/caller-home`)).toBe(true);
  });

  it('records each handler run, with when it ended', async () => {
    const { output } = await cluster.client.invoke(REVERSE, { text: 'xy' }, { requestId: 'run-1' });
    expect(output).toEqual({ text: 'yx' });
    const run = cluster.handlerRuns.find((r) => r.requestId === 'run-1');
    expect(run).toMatchObject({ capability: 'test.reverse', abortedAt: undefined });
    expect(run?.settledAt).toBeGreaterThanOrEqual(run?.startedAt ?? Infinity);
  });

  it('starts more workers against the same controller', async () => {
    const second = await cluster.startWorker({ name: 'second', capabilities: [reverse] });
    const listed = await cluster.client.workers();
    expect(listed.map((w) => w.id).sort()).toEqual([cluster.worker.id, second.id].sort());
    await second.stop();
  });
});

describe('startTestCluster lifecycle', () => {
  it('refuses worker and capabilities together', async () => {
    await expect(
      startTestCluster({ worker: { name: 'a', capabilities: [reverse] }, capabilities: [reverse] }),
    ).rejects.toThrow('worker, capabilities: give one of them, not both');
  });

  it('starts without a worker, and says so when asked for one', async () => {
    const cluster = await startTestCluster();
    try {
      expect(await cluster.client.capabilities()).toEqual([]);
      expect(() => cluster.worker).toThrow(
        'worker: this cluster was started without `worker` or `capabilities`',
      );
    } finally {
      await cluster.close();
    }
  });

  it('close() stops everything, removes the data dir and leaves no handle open; twice is fine', async () => {
    const before = liveHandles();
    // Closed right after the start: the controller may still be connecting to the worker then.
    const cluster = await startTestCluster({ capabilities: [reverse] });
    const { dataDir, worker } = cluster;
    await cluster.close();
    await cluster.close();
    expect(worker.state).toBe('stopped');
    expect(existsSync(dataDir)).toBe(false);
    // Sockets close on the next turns of the event loop; wait for it rather than for a time.
    const started = Date.now();
    while (liveHandles().join() !== before.join() && Date.now() - started < 5_000) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(liveHandles()).toEqual(before);
  });
});
