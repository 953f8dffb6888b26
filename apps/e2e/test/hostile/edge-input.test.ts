// Hostile input at the controller's edges (HTTP and gRPC), against a real controller process and a
// real echo worker. Every new endpoint adds its hostile cases here: malformed and oversized
// headers, names and bodies, each answered with the documented 4xx body while the controller keeps
// serving.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CrankClient } from '@crank/controller-client';
import { Cluster, type RunningProcess } from '../harness.js';
import { alive, invokeHttp, labelValues, metricSum, metricsText, rawHttp } from './hostile-kit.js';

describe('hostile input at the edges', () => {
  let cluster: Cluster;
  let client: CrankClient;
  let worker: { proc: RunningProcess; id: string; httpUrl: string };

  /** The controller still serves: the process runs, and a normal call over HTTP succeeds. */
  const stillServing = async (): Promise<void> => {
    expect(alive(cluster.controller)).toBe(true);
    const ok = await invokeHttp(cluster, 'debug.echo', { message: 'still here' });
    expect(ok).toMatchObject({ status: 200, body: { message: 'still here', workerId: worker.id } });
  };

  /** Calls the worker has finished, by its own count (what it saw, not what was routed). */
  const workerCompleted = async (): Promise<number> => {
    const health = (await (await fetch(`${worker.httpUrl}/health`)).json()) as { completed: number };
    return health.completed;
  };

  /** Calls the controller has counted as finished on the worker (/v1/workers). */
  const routedCompleted = async (): Promise<number> => {
    const res = await cluster.http('/v1/workers');
    const listed = (res.body as { workers: { id: string; completed: number }[] }).workers;
    return listed.find((w) => w.id === worker.id)?.completed ?? -1;
  };

  beforeAll(async () => {
    cluster = await Cluster.start();
    const started = await cluster.startEcho();
    const { http } = await started.proc.event('worker_started');
    worker = { ...started, httpUrl: String(http) };
    client = await cluster.client();
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  });

  describe('x-crank-timeout-ms and gRPC deadlines', () => {
    it.each(['1e15', '2.2e9', '2200000000', '-5', 'abc', '0', ''])(
      'answers 400 INVALID_INPUT naming the header for x-crank-timeout-ms: %j, and keeps serving',
      async (value) => {
        const res = await invokeHttp(
          cluster,
          'debug.echo',
          { message: 'deadline' },
          { 'x-crank-timeout-ms': value },
        );
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({
          error: { code: 'INVALID_INPUT', message: expect.stringMatching(/^x-crank-timeout-ms: /) },
        });
        await stillServing();
      },
    );

    it('serves a gRPC call whose deadline is 30 days away (clamped), rather than failing it at once', async () => {
      const days30 = new Date(Date.now() + 30 * 86_400_000);
      const result = await client.invoke<{ message: string }>(
        'debug.echo',
        { message: 'far deadline', delayMs: 50 },
        { deadline: days30 },
      );
      expect(result.output.message).toBe('far deadline');
      expect(result.workerId).toBe(worker.id);
    });

    it('serves a gRPC call with the largest deadline grpc-js can send (99999999 hours)', async () => {
      const result = await client.invoke<{ message: string }>(
        'debug.echo',
        { message: 'furthest deadline' },
        { timeoutMs: 99_999_999 * 3_600_000 },
      );
      expect(result.output.message).toBe('furthest deadline');
    });
  });

  describe('client mistakes are 4xx with the documented JSON body', () => {
    it('refuses JSON nested 5,000 deep with 400 INVALID_INPUT, over HTTP and gRPC', async () => {
      const deep = `{"message":${'['.repeat(5_000)}${']'.repeat(5_000)}}`;
      const res = await invokeHttp(cluster, 'debug.echo', deep);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        error: { code: 'INVALID_INPUT', message: expect.stringContaining('nests deeper'), details: {} },
      });
      await expect(
        client.invoke('debug.echo', Buffer.from(deep), { contentType: 'application/json' }),
      ).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('nests deeper') });
      await stillServing();
    });

    it('refuses ?version=a&version=b with 400 naming version', async () => {
      const res = await cluster.http('/v1/invoke/debug.echo?version=1.0.0&version=2.0.0', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'two versions' }),
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        error: { code: 'INVALID_INPUT', message: expect.stringMatching(/^version: /) },
      });
      await stillServing();
    });

    it('answers a header block over the parser limit with 431 and a JSON body', async () => {
      const port = cluster.httpPort;
      const res = await rawHttp(
        port,
        `GET /health HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nx-filler: ${'a'.repeat(40_000)}\r\n` +
          'connection: close\r\n\r\n',
      );
      expect(res.status).toBe(431);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toMatchObject({ error: { code: 'INVALID_INPUT', message: expect.any(String) } });
      await stillServing();
    });

    it('answers a malformed request line with 400 and a JSON body', async () => {
      const res = await rawHttp(cluster.httpPort, 'THIS IS NOT HTTP\r\n\r\n');
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toMatchObject({ error: { code: 'INVALID_INPUT', message: expect.any(String) } });
      await stillServing();
    });

    it('answers an unknown route with 404 and a JSON body', async () => {
      for (const [method, path] of [
        ['GET', '/v1/nothing-here'],
        ['POST', '/v2/invoke/debug.echo'],
        ['DELETE', '/v1/workers'],
      ] as const) {
        const res = await cluster.http(path, { method });
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(res.body).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
      }
    });
  });

  describe('input the capability does not take is not charged to the worker', () => {
    it('answers text/plain with 415 UNSUPPORTED_FORMAT before the worker sees it; no contract violation', async () => {
      // One call first, so the worker's series exist and the counts below are comparable.
      await stillServing();
      const violationsBefore = metricSum(await metricsText(cluster), 'crank_contract_violations_total');
      const refusedBefore = metricSum(
        await metricsText(cluster),
        'crank_requests_total{capability="debug.echo",outcome="UNSUPPORTED_FORMAT"}',
      );
      const [workerBefore, routedBefore] = [await workerCompleted(), await routedCompleted()];

      const res = await invokeHttp(cluster, 'debug.echo', 'hello as text', { 'content-type': 'text/plain' });
      expect(res.status).toBe(415);
      expect(res.body).toMatchObject({
        error: {
          code: 'UNSUPPORTED_FORMAT',
          message: expect.stringContaining('text/plain'),
          details: { capability: 'debug.echo' },
        },
      });
      await expect(
        client.invoke('debug.echo', Buffer.from('hello as text'), { contentType: 'text/plain' }),
      ).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT' });

      const metrics = await metricsText(cluster);
      expect(metricSum(metrics, 'crank_contract_violations_total')).toBe(violationsBefore);
      expect(
        metricSum(metrics, 'crank_requests_total{capability="debug.echo",outcome="UNSUPPORTED_FORMAT"}'),
      ).toBe(refusedBefore + 2);
      expect(await workerCompleted()).toBe(workerBefore);
      expect(await routedCompleted()).toBe(routedBefore);
      expect(cluster.controller.lines.some((l) => l.event === 'contract_violation')).toBe(false);
    });

    it('refuses a foreign Host or Origin on a call with 403 before the worker sees it', async () => {
      const port = cluster.httpPort;
      const [workerBefore, routedBefore] = [await workerCompleted(), await routedCompleted()];
      const body = JSON.stringify({ message: 'rebound' });
      for (const extra of [
        `host: evil.example:${port}`,
        `host: 127.0.0.1:${port}\r\norigin: https://evil.example`,
      ]) {
        const res = await rawHttp(
          port,
          `POST /v1/invoke/debug.echo HTTP/1.1\r\n${extra}\r\ncontent-type: application/json\r\n` +
            `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({ error: { code: 'PERMISSION_DENIED' } });
      }
      expect(await workerCompleted()).toBe(workerBefore);
      expect(await routedCompleted()).toBe(routedBefore);
    });
  });

  describe('oversized names', () => {
    it('answers a 40 KB capability name over gRPC with a short INVALID_INPUT; the same client then succeeds', async () => {
      const name = 'x'.repeat(40_000);
      const error = (await client.invoke(name, { message: 'long name' }).catch((e: unknown) => e)) as {
        code: string;
        message: string;
      };
      expect(error).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/^capability: /) });
      expect(error.message.length).toBeLessThan(300);
      // Same client, same HTTP/2 connection: the connection survived the refusal.
      const result = await client.invoke<{ message: string }>('debug.echo', { message: 'right after' });
      expect(result.output.message).toBe('right after');
      // A name callers typed never becomes a metric label.
      expect(labelValues(await metricsText(cluster), 'capability').has(name)).toBe(false);
    });

    it('answers a 40 KB capability name in an HTTP URL with a JSON error and keeps serving', async () => {
      const res = await invokeHttp(cluster, 'y'.repeat(40_000), { message: 'long url' });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
      expect(JSON.stringify(res.body).length).toBeLessThan(1_000);
      await stillServing();
    });
  });
});
