// Hostile load: floods of calls, names and bytes, against a real controller process and real
// worker processes. Every new endpoint adds its hostile cases here: what a flood of it costs the
// controller (memory, metric series) and whether the probes keep answering through it.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Cluster, eventually } from '../harness.js';
import { invokeHttp, labelValues, metricSum, metricsText, runPool, settle } from './hostile-kit.js';

const BLOB_WORKER = join(import.meta.dirname, '../fixtures/blob-worker.mjs');
const MiB = 1024 * 1024;

describe('hostile load', () => {
  let cluster: Cluster | undefined;

  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  it('keeps one capability="unknown" series for 2,000 calls naming distinct unknown capabilities', async () => {
    cluster = await Cluster.start();
    await cluster.startEcho();
    const client = await cluster.client();
    const c = cluster;

    const overHttp = await runPool(1_000, 16, (i) => invokeHttp(c, `nope.http-${i}`, {}));
    expect(new Set(overHttp.map((r) => r.status))).toEqual(new Set([404]));
    const overGrpc = await runPool(1_000, 16, (i) => settle(client.invoke(`nope.grpc-${i}`, {})));
    expect(new Set(overGrpc.map((r) => (r.ok ? 'ok' : r.error.code)))).toEqual(new Set(['NOT_FOUND']));

    const metrics = await metricsText(cluster);
    const capabilities = labelValues(metrics, 'capability');
    expect([...capabilities].filter((c) => c.startsWith('nope.'))).toEqual([]);
    expect(capabilities.has('unknown')).toBe(true);
    expect(capabilities.size).toBeLessThanOrEqual(3); // unknown, debug.echo, and nothing else
    expect(metrics).toMatch(/^crank_requests_total\{capability="unknown",outcome="NOT_FOUND"\} 2000$/m);
    expect(metrics.length).toBeLessThan(200_000);
  }, 60_000);

  it('refuses calls past CRANK_MAX_INFLIGHT_BYTES (RESOURCE_EXHAUSTED / 429) and serves those within it', async () => {
    cluster = await Cluster.start({ env: { CRANK_MAX_INFLIGHT_BYTES: String(8 * MiB) } });
    const c = cluster;
    const blob = cluster.spawn('blob', BLOB_WORKER, {});
    await blob.event('registered');
    const client = await cluster.client();
    const data = 'x'.repeat(3 * MiB);
    // Long enough that the first two hold their bytes while the others arrive.
    const input = { data, delayMs: 4_000 };

    // Over gRPC: 8 MiB hold two 3 MiB calls; the other three are refused at once.
    const grpc = await Promise.all(
      Array.from({ length: 5 }, () => settle(client.invoke<{ length: number }>('test.blob', input))),
    );
    const grpcServed = grpc.filter((r) => r.ok);
    expect(grpcServed).toHaveLength(2);
    expect(grpcServed.every((r) => r.ok && r.value.output.length === data.length)).toBe(true);
    expect(grpc.filter((r) => !r.ok).map((r) => !r.ok && r.error.code)).toEqual([
      'RESOURCE_EXHAUSTED',
      'RESOURCE_EXHAUSTED',
      'RESOURCE_EXHAUSTED',
    ]);

    // Every byte was given back: a call now fits again.
    await eventually(async () => metricSum(await metricsText(c), 'crank_inflight_payload_bytes') === 0);
    await expect(client.invoke('test.blob', { data })).resolves.toMatchObject({
      output: { length: data.length },
    });

    // Over HTTP the same, as 429 with Retry-After.
    const body = JSON.stringify(input);
    const http = await Promise.all(Array.from({ length: 5 }, () => invokeHttp(c, 'test.blob', body)));
    expect(http.map((r) => r.status).sort()).toEqual([200, 200, 429, 429, 429]);
    for (const refused of http.filter((r) => r.status === 429)) {
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.body).toMatchObject({ error: { code: 'RESOURCE_EXHAUSTED' } });
    }
    await eventually(async () => metricSum(await metricsText(c), 'crank_inflight_payload_bytes') === 0);
  }, 60_000);

  it('answers a storm of 500 calls on a slow worker with 429 + Retry-After, while /health and /metrics keep answering', async () => {
    cluster = await Cluster.start({ env: { CRANK_QUEUE_LIMIT: '2' } });
    await cluster.startEcho({ CRANK_ECHO_CONCURRENCY: '2' });
    const c = cluster;

    const statuses: number[] = [];
    let finished = false;
    const storm = Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        const res = await invokeHttp(c, 'debug.echo', { message: `storm-${i}`, delayMs: 3_000 });
        statuses.push(res.status);
        return res;
      }),
    ).finally(() => {
      finished = true;
    });

    // Well into the storm: refusals are flowing, the served calls are still running.
    await eventually(() => statuses.filter((s) => s === 429).length >= 100, 20_000);
    const [health, metrics] = await Promise.all([cluster.http('/health'), cluster.http('/metrics')]);
    expect(finished).toBe(false);
    expect(health).toMatchObject({ status: 200, body: { status: 'ok', workers: 1 } });
    expect(metrics.status).toBe(200);
    expect(String(metrics.body)).toMatch(
      /crank_requests_total\{capability="debug.echo",outcome="RESOURCE_EXHAUSTED"\}/,
    );

    const answers = await storm;
    expect(answers.filter((r) => r.status !== 200 && r.status !== 429)).toEqual([]);
    const refused = answers.filter((r) => r.status === 429);
    const served = answers.filter((r) => r.status === 200);
    // Two slots and two places in the queue; the rest are refused at once.
    expect(served.length).toBeGreaterThanOrEqual(4);
    expect(refused.length).toBeGreaterThanOrEqual(450);
    for (const r of refused) {
      expect(r.headers.get('retry-after')).toBe('1');
      expect(r.body).toMatchObject({ error: { code: 'RESOURCE_EXHAUSTED' } });
    }
  }, 60_000);
});
