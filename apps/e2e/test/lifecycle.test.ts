import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CapabilityError, defineCapability } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import { CrankWorker, serve } from '@crank/worker-runtime';
import { pino } from 'pino';
import { Cluster, eventually } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));

/** An endless output stream: one record per pull, forever, until the call ends. */
const TICKS = defineCapability<{ from: number }, { n: number; pad: string }, 'output'>({
  id: 'test.ticks',
  version: '1.0.0',
  streaming: 'output',
  inputSchema: { type: 'object', required: ['from'], properties: { from: { type: 'integer' } } },
  outputSchema: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
  resources: { maxConcurrency: 1 },
});

/** A bidi stream that answers each record with the caller the worker was told about. */
const WHO = defineCapability<{ q: string }, { caller: string; q: string }, 'bidi'>({
  id: 'test.who',
  version: '1.0.0',
  streaming: 'bidi',
  inputSchema: { type: 'object', required: ['q'], properties: { q: { type: 'string' } } },
  outputSchema: { type: 'object', required: ['caller', 'q'] },
});

/** Loads a "model" before it can answer: served with ready false. */
const SLOW_START = defineCapability<{ x: number }, { y: number }>({
  id: 'test.model',
  version: '1.0.0',
  inputSchema: { type: 'object', required: ['x'], properties: { x: { type: 'number' } } },
  outputSchema: { type: 'object', required: ['y'], properties: { y: { type: 'number' } } },
});

/** Declares only UNSUPPORTED_FORMAT, and fails with ALREADY_EXISTS when asked. */
const STRICT = defineCapability<{ fail: string }, { ok: boolean }>({
  id: 'test.strict',
  version: '1.0.0',
  inputSchema: { type: 'object', required: ['fail'], properties: { fail: { type: 'string' } } },
  outputSchema: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } },
  errorCodes: ['UNSUPPORTED_FORMAT'],
});

/** The lifecycle and streaming fixes that real workers depend on, against real processes. */
describe('worker lifecycle and streams', () => {
  let cluster: Cluster;
  let worker: CrankWorker;
  let client: CrankClient;
  let produced = 0;

  beforeAll(async () => {
    // A long heartbeat: whatever the tests see live is not waiting for the next beat.
    cluster = await Cluster.start({ heartbeatMs: 10_000 });
    worker = await CrankWorker.create({
      name: 'lifecycle',
      controllerUrl: cluster.grpcAddress,
      dataDir: cluster.dataDir,
      logger: pino({ level: 'silent' }),
      capabilities: [
        serve(TICKS, async function* (input) {
          // Ignores ctx.signal on purpose: the runtime must free the slot all the same.
          for (let n = input.from; ; n++) {
            produced += 1;
            yield { n, pad: 'x'.repeat(8 * 1024) };
          }
        }),
        serve(WHO, async function* (records, ctx) {
          for await (const record of records) yield { caller: ctx.caller, q: record.q };
        }),
        serve(SLOW_START, (input) => ({ y: input.x * 2 }), { ready: false, reason: 'loading model' }),
        serve(STRICT, (input) => {
          if (input.fail === 'undeclared') throw new CapabilityError('ALREADY_EXISTS', 'not declared');
          if (input.fail === 'declared') throw new CapabilityError('UNSUPPORTED_FORMAT', 'declared');
          return { ok: true };
        }),
      ],
    });
    await worker.start();
    client = await cluster.client('lifecycle-caller');
  }, 30_000);

  afterAll(async () => {
    await worker?.stop();
    await cluster?.close();
  });

  const workerInfo = async () => (await client.workers()).find((w) => w.id === worker.id);

  it('frees the slot of a cancelled output stream at once, even when its reader stopped reading', async () => {
    const stream = client.invokeStream<{ n: number }>(TICKS.id, [{ from: 0 }]);
    await stream.accepted;
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    // Stop reading: the worker's writes back up until it waits for 'drain'.
    await eventually(async () => {
      const before = produced;
      await new Promise((r) => setTimeout(r, 100));
      return produced === before;
    }, 10_000);
    stream.cancel();

    await eventually(async () => (await workerInfo())?.inFlight === 0, 10_000);
    // One slot only: a second stream gets it, so the first one really let it go.
    const again = client.invokeStream<{ n: number }>(TICKS.id, [{ from: 100 }]);
    const first = await again[Symbol.asyncIterator]().next();
    expect(first.value).toMatchObject({ n: 100 });
    again.cancel();
    await eventually(async () => (await workerInfo())?.inFlight === 0, 10_000);
  }, 30_000);

  it('lets a caller await `accepted` before reading, and tells the worker who the caller is', async () => {
    const stream = client.invokeStream<{ caller: string; q: string }>(WHO.id, [{ q: 'a' }, { q: 'b' }]);
    await expect(stream.accepted).resolves.toEqual({ workerId: worker.id, version: '1.0.0' });
    const out = [];
    for await (const record of stream) out.push(record);
    expect(out).toEqual([
      { caller: 'lifecycle-caller', q: 'a' },
      { caller: 'lifecycle-caller', q: 'b' },
    ]);
  });

  it('refuses a unary call to a streaming capability with FAILED_PRECONDITION, over gRPC and HTTP', async () => {
    await expect(client.invoke(TICKS.id, { from: 1 })).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
    const res = await cluster.http(`/v1/invoke/${TICKS.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: 1 }),
    });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: { code: 'FAILED_PRECONDITION' } });
  });

  it('keeps a capability out of rotation until its model is ready, then routes to it', async () => {
    expect((await workerInfo())?.capabilities.find((c) => c.id === SLOW_START.id)).toMatchObject({
      ready: false,
      reason: 'loading model',
    });
    // Not routed to the worker (which would answer MODEL_NOT_READY): it waits for a ready one
    // until the caller's deadline.
    const completed = (await workerInfo())?.completed;
    const early = await client.invoke(SLOW_START.id, { x: 1 }, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(['UNAVAILABLE', 'DEADLINE_EXCEEDED']).toContain((early as { code?: string }).code);
    expect((await workerInfo())?.completed).toBe(completed);
    worker.setReady(SLOW_START.id, true);
    await eventually(
      async () => (await workerInfo())?.capabilities.find((c) => c.id === SLOW_START.id)?.ready === true,
    );
    await expect(client.invoke(SLOW_START.id, { x: 21 })).resolves.toMatchObject({
      output: { y: 42 },
      workerId: worker.id,
    });
  });

  it('turns an error code the capability does not declare into CONTRACT_VIOLATION, and counts it', async () => {
    await expect(client.invoke(STRICT.id, { fail: 'declared' })).rejects.toMatchObject({
      code: 'UNSUPPORTED_FORMAT',
    });
    await expect(client.invoke(STRICT.id, { fail: 'undeclared' })).rejects.toMatchObject({
      code: 'CONTRACT_VIOLATION',
      message: expect.stringContaining('ALREADY_EXISTS'),
    });
    const metrics = await cluster.http('/metrics');
    expect(String(metrics.body)).toMatch(
      new RegExp(`crank_contract_violations_total\\{capability="${STRICT.id}",worker="${worker.id}"\\} 1`),
    );
  });

  it('counts completed calls in /v1/workers as they end, not at the next heartbeat', async () => {
    const before = (await workerInfo())?.completed ?? 0;
    for (let i = 0; i < 5; i++) await client.invoke(STRICT.id, { fail: 'no' });
    expect((await workerInfo())?.completed).toBe(before + 5);
  });
});

describe('worker process lifecycle', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.start({ heartbeatMs: 500 });
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('ends an idle plain-Node worker at once on SIGTERM, long before its drain timeout', async () => {
    const proc = cluster.spawn('plain', join(here, 'fixtures/plain-worker.mjs'), { CRANK_DRAIN_MS: '30000' });
    const registered = await proc.event('registered');
    const sentAt = Date.now();
    proc.kill('SIGTERM');
    const exit = await proc.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    // The drain timer no longer outlives stop(): nothing keeps the process for CRANK_DRAIN_MS.
    expect(Date.now() - sentAt).toBeLessThan(15_000);
    await proc.event('worker_stopped');
    const client = await cluster.client();
    await eventually(async () =>
      (await client.workers()).some((w) => w.id === registered['workerId'] && w.state === 'gone'),
    );
  }, 30_000);

  it('ends an idle NestJS worker at once on SIGTERM with status 0', async () => {
    const { proc } = await cluster.startEcho({ CRANK_DRAIN_MS: '30000' });
    const sentAt = Date.now();
    proc.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - sentAt).toBeLessThan(15_000);
  }, 30_000);

  it('has workers register again within moments of a controller restart, whatever the heartbeat interval', async () => {
    const slow = await Cluster.start({ heartbeatMs: 20_000 });
    try {
      const { id } = await slow.startEcho();
      slow.controller.kill('SIGKILL');
      await slow.controller.exited;
      await slow.startController();
      const client = await slow.client();
      const tookMs = await eventually(async () => (await client.workers()).some((w) => w.id === id), 15_000);
      // Before: up to one heartbeat interval (20 s here). Now: as soon as the channel reconnects.
      expect(tookMs).toBeLessThan(10_000);
    } finally {
      await slow.close();
    }
  }, 60_000);
});
