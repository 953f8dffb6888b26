import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CrankError } from '@crank/capabilities';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import {
  callerIdentity,
  channelCredentials,
  controllerLocation,
  type CrankClient,
} from '@crank/controller-client';
import { DEBUG_ECHO } from '@crank/capabilities';
import { HealthCheckResponse_ServingStatus, HealthClient } from '@crank/proto';
import { assertConformance, runConformance } from '@crank/testkit';
import { Cluster, type RunningProcess } from './harness.js';

/** Registration, routing spread and typed errors, over real processes and real mTLS. */
describe('controller and two echo workers', () => {
  let cluster: Cluster;
  let client: CrankClient;
  let workers: string[];
  let procs: RunningProcess[];

  beforeAll(async () => {
    cluster = await Cluster.start();
    const started = await Promise.all([cluster.startEcho(), cluster.startEcho()]);
    workers = started.map((w) => w.id);
    procs = started.map((w) => w.proc);
    client = await cluster.client();
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('enrolls and registers both workers, and lists the capability with 2 live workers', async () => {
    const listed = await client.workers();
    expect(listed.map((w) => w.id).sort()).toEqual([...workers].sort());
    expect(listed.every((w) => w.state === 'ready')).toBe(true);
    const capabilities = await client.capabilities();
    expect(capabilities).toEqual([
      expect.objectContaining({ id: 'debug.echo', version: '1.0.0', liveWorkers: 2 }),
      expect.objectContaining({
        id: 'debug.echo-stream',
        version: '1.0.0',
        liveWorkers: 2,
        streaming: 'bidi',
      }),
    ]);
  });

  it('spreads 100 calls over both workers, each serving at least 30', async () => {
    const served = new Map<string, number>();
    const queue = Array.from({ length: 100 }, (_, i) => i);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
          const result = await client.invoke<{ message: string; workerId: string }>('debug.echo', {
            message: `m${i}`,
          });
          expect(result.output.message).toBe(`m${i}`);
          // The worker id in the payload comes from the handler itself: proof of who served it.
          expect(result.output.workerId).toBe(result.workerId);
          served.set(result.workerId, (served.get(result.workerId) ?? 0) + 1);
        }
      }),
    );
    expect([...served.keys()].sort()).toEqual([...workers].sort());
    for (const count of served.values()) expect(count).toBeGreaterThanOrEqual(30);
  });

  it('answers NOT_FOUND for an unknown capability, over gRPC and as HTTP 404', async () => {
    await expect(client.invoke('nope.nothing', {})).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const res = await cluster.http('/v1/invoke/nope.nothing', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({
      error: { code: 'NOT_FOUND', message: expect.stringContaining('nope.nothing') },
    });
  });

  it('refuses schema-invalid input with INVALID_INPUT naming the field (HTTP 400)', async () => {
    const error = await client.invoke('debug.echo', { message: 42 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrankError);
    expect(error).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('/message') });
    const res = await cluster.http('/v1/invoke/debug.echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'x', unexpected: true }),
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      error: { code: 'INVALID_INPUT', message: expect.stringContaining('unexpected') },
    });
  });

  it('answers NOT_FOUND naming the available versions when no version matches', async () => {
    await expect(client.invoke('debug.echo', { message: 'x' }, { version: '^2.0.0' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('available: 1.0.0'),
    });
  });

  it('passes a handler error through with its contract code and HTTP status', async () => {
    await expect(
      client.invoke('debug.echo', { message: 'x', failWith: 'UNSUPPORTED_FORMAT' }),
    ).rejects.toMatchObject({
      code: 'UNSUPPORTED_FORMAT',
    });
    const res = await cluster.http('/v1/invoke/debug.echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'x', failWith: 'UNSUPPORTED_FORMAT' }),
    });
    expect(res.status).toBe(415);
  });

  it('serves HTTP invoke with the serving worker in x-crank-worker', async () => {
    const res = await cluster.http('/v1/invoke/debug.echo?version=^1', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'over http' }),
    });
    expect(res.status).toBe(200);
    const worker = res.headers.get('x-crank-worker');
    expect(workers).toContain(worker);
    expect(res.body).toMatchObject({ message: 'over http', workerId: worker });
  });

  it('propagates the caller deadline to the worker', async () => {
    const started = Date.now();
    await expect(
      client.invoke('debug.echo', { message: 'slow', delayMs: 5_000 }, { timeoutMs: 300 }),
    ).rejects.toMatchObject({
      code: 'DEADLINE_EXCEEDED',
    });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('exposes Prometheus metrics with request counts and worker gauges', async () => {
    const res = await cluster.http('/metrics');
    expect(res.status).toBe(200);
    const text = String(res.body);
    expect(text).toMatch(/crank_requests_total\{capability="debug.echo",outcome="ok"\} \d+/);
    expect(text).toMatch(/crank_requests_total\{capability="debug.echo",outcome="INVALID_INPUT"\} \d+/);
    expect(text).toContain('crank_request_duration_seconds_bucket');
    expect(text).toMatch(/crank_workers\{capability="debug.echo",state="ready"\} 2/);
    expect(text).toMatch(/crank_inflight\{worker="echo-[0-9a-f]+"\} 0/);
  });

  it('serves health, version, workers and OpenAPI docs over HTTP', async () => {
    expect((await cluster.http('/health')).body).toMatchObject({ status: 'ok', workers: 2 });
    expect((await cluster.http('/version')).body).toMatchObject({ name: '@crank/controller' });
    const listed = (await cluster.http('/v1/workers')).body as {
      workers: { id: string; inFlight: number }[];
    };
    expect(listed.workers.map((w) => w.id).sort()).toEqual([...workers].sort());
    const docs = (await cluster.http('/docs/json')).body as { paths: Record<string, unknown> };
    expect(Object.keys(docs.paths)).toEqual(
      expect.arrayContaining(['/v1/invoke/{capability}', '/v1/capabilities']),
    );
  });

  it("serves the worker's own /health, /metrics, /version and /docs", async () => {
    const [first] = procs;
    if (!first) throw new Error('no worker started');
    const started = await first.event('worker_started');
    const base = String(started['http']);
    const health = (await (await fetch(`${base}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'serving', workerId: workers[0], registered: true });
    expect(health['capabilities']).toEqual([
      expect.objectContaining({ id: 'debug.echo', version: '1.0.0', ready: true }),
      expect.objectContaining({ id: 'debug.echo-stream', version: '1.0.0', ready: true }),
    ]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(
      /crank_worker_requests_total\{[^}]*capability="debug.echo"[^}]*outcome="ok"[^}]*\} \d+/,
    );
    expect(await (await fetch(`${base}/version`)).json()).toMatchObject({ workerId: workers[0] });
    const docs = (await (await fetch(`${base}/docs/json`)).json()) as { capabilities: { id: string }[] };
    expect(docs.capabilities.map((c) => c.id)).toEqual(['debug.echo', 'debug.echo-stream']);
    expect((await fetch(`${base}/docs`)).headers.get('content-type')).toContain('text/html');
  });

  it('answers the standard gRPC health check over mTLS', async () => {
    const second = procs[1];
    const secondId = workers[1];
    if (!second || !secondId) throw new Error('no second worker');
    const started = await second.event('worker_started');
    const caller = await callerIdentity(
      controllerLocation({ address: cluster.grpcAddress, dataDir: cluster.dataDir }),
      'health-probe',
    );
    expect(caller.caPem).toBe(await readFile(join(cluster.dataDir, 'ca.crt'), 'utf8'));
    const health = new HealthClient(String(started['grpc']), channelCredentials(caller.caPem, caller), {
      'grpc.ssl_target_name_override': secondId,
    });
    try {
      const check = (service: string): Promise<number> =>
        new Promise((resolve, reject) =>
          health.check({ service }, new Metadata(), (error, res) =>
            error ? reject(error) : resolve(res.status),
          ),
        );
      expect(await check('')).toBe(HealthCheckResponse_ServingStatus.SERVING);
      expect(await check('debug.echo')).toBe(HealthCheckResponse_ServingStatus.SERVING);
      await expect(check('nope.none')).rejects.toMatchObject({ code: 5 });
    } finally {
      health.close();
    }
  });

  it('delivers a caller cancel to the handler as an aborted signal', async () => {
    const abort = new AbortController();
    const started = Date.now();
    const call = client.invoke(
      'debug.echo',
      { message: 'cancel me', delayMs: 10_000 },
      { signal: abort.signal },
    );
    setTimeout(() => abort.abort(), 200);
    await expect(call).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(Date.now() - started).toBeLessThan(3_000);
    // The handler stopped waiting: no call stays in flight on either worker.
    await new Promise((r) => setTimeout(r, 300));
    for (const proc of procs) {
      const { http } = await proc.event('worker_started');
      const health = (await (await fetch(`${String(http)}/health`)).json()) as { inFlight: number };
      expect(health.inFlight).toBe(0);
    }
  });

  it('passes the conformance kit for debug.echo', async () => {
    const results = await runConformance({
      client,
      capability: DEBUG_ECHO,
      cases: [
        {
          name: 'echoes the message',
          input: { message: 'conformance' },
          check: (output) => expect(output).toMatchObject({ message: 'conformance' }),
        },
        {
          name: 'reports a handler error with its code',
          input: { message: 'x', failWith: 'UNSUPPORTED_FORMAT' },
          expectError: 'UNSUPPORTED_FORMAT',
        },
      ],
    });
    assertConformance(results);
    expect(results.map((r) => r.name)).toContain('input that breaks the schema is refused');
    expect(results.filter((r) => r.workerId).every((r) => workers.includes(r.workerId as string))).toBe(true);
  });
});
