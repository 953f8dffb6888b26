import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiKeyStore } from '@crank/proto';
import { CONTROLLER_MAIN, Cluster, eventually, freePort } from './harness.js';

/** One HTTP request to 127.0.0.1:`port`, with exactly the headers given (Host included). */
function send(
  port: number,
  method: 'GET' | 'POST',
  path: string,
  headers: OutgoingHttpHeaders = {},
  body?: unknown,
): Promise<{ status: number; headers: Record<string, unknown>; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: {
          host: `127.0.0.1:${port}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text) as unknown;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const bearer = (key: string): OutgoingHttpHeaders => ({ authorization: `Bearer ${key}` });

describe('HTTP access beyond loopback', () => {
  it('refuses to start on 0.0.0.0 without HTTP auth, saying what to set', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'crank-it-'));
    try {
      const child = spawn(process.execPath, [CONTROLLER_MAIN], {
        env: {
          PATH: process.env['PATH'],
          CRANK_DATA_DIR: dataDir,
          CRANK_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
          CRANK_HTTP_ADDR: `0.0.0.0:${await freePort()}`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

      expect(code).not.toBe(0);
      expect(output).toContain('httpAuth: the HTTP API has no authentication');
      expect(output).toContain('set CRANK_HTTP_AUTH=keys');
      expect(output).not.toContain('controller_started');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  describe('with CRANK_HTTP_AUTH=keys on 0.0.0.0', () => {
    let cluster: Cluster;
    let port: number;
    let keys: ApiKeyStore;

    beforeAll(async () => {
      port = await freePort();
      cluster = await Cluster.start({
        env: { CRANK_HTTP_ADDR: `0.0.0.0:${port}`, CRANK_HTTP_AUTH: 'keys' },
      });
      await cluster.startEcho();
      // As `crank keys create` does, on the controller's data dir, after the controller started.
      keys = await ApiKeyStore.open(cluster.dataDir);
    }, 60_000);

    afterAll(async () => {
      await cluster?.close();
    });

    it('answers the probes without a key', async () => {
      expect(await send(port, 'GET', '/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
    });

    it('answers 401 without a key, 403 to a key without the scope, the worker with a good key', async () => {
      const jobsOnly = await keys.create({ name: 'jobs-only', scopes: ['jobs'] });
      const invoker = await keys.create({ name: 'invoker', scopes: ['invoke'] });
      const message = { message: 'over http with a key' };

      const anonymous = await send(port, 'POST', '/v1/invoke/debug.echo', {}, message);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(anonymous.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
      await cluster.controller.waitFor((l) => l.event === 'http_refused' && l['status'] === 401);

      // The keys were written after start: the controller picks them up from the file.
      await eventually(
        async () => (await send(port, 'GET', '/v1/capabilities', bearer(invoker.key))).status === 200,
      );
      const denied = await send(port, 'POST', '/v1/invoke/debug.echo', bearer(jobsOnly.key), message);
      expect(denied).toMatchObject({
        status: 403,
        body: { error: { code: 'PERMISSION_DENIED', details: { scope: 'invoke' } } },
      });

      const served = await send(port, 'POST', '/v1/invoke/debug.echo', bearer(invoker.key), message);
      expect(served.status).toBe(200);
      expect(served.body).toMatchObject({ message: 'over http with a key' });
      expect(served.headers['x-crank-worker']).toEqual(expect.any(String));
    });

    it('refuses a revoked key without a restart', async () => {
      const { key, info } = await keys.create({ name: 'soon-revoked', scopes: ['invoke'] });
      await eventually(async () => (await send(port, 'GET', '/v1/workers', bearer(key))).status === 200);

      await keys.revoke(info.id);
      await eventually(async () => (await send(port, 'GET', '/v1/workers', bearer(key))).status === 401);
      const refused = await send(port, 'POST', '/v1/invoke/debug.echo', bearer(key), { message: 'x' });
      expect(refused).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
      expect(
        cluster.controller.lines.some((l) => l['reason'] === 'api_key_revoked' && l['keyId'] === info.id),
      ).toBe(true);
    });
  });

  describe('on loopback without auth', () => {
    let cluster: Cluster;

    beforeAll(async () => {
      cluster = await Cluster.start();
    }, 60_000);

    afterAll(async () => {
      await cluster?.close();
    });

    it('serves loopback names and refuses a foreign Host or Origin with 403', async () => {
      const port = cluster.httpPort;
      expect((await send(port, 'GET', '/v1/capabilities', { host: `localhost:${port}` })).status).toBe(200);

      const rebound = await send(port, 'GET', '/v1/capabilities', { host: `evil.example:${port}` });
      expect(rebound).toMatchObject({
        status: 403,
        body: { error: { code: 'PERMISSION_DENIED', message: expect.stringMatching(/^Host: /) } },
      });

      const crossSite = await send(
        port,
        'POST',
        '/v1/invoke/debug.echo',
        { origin: 'https://evil.example', 'content-type': 'text/plain' },
        { message: 'csrf' },
      );
      expect(crossSite).toMatchObject({
        status: 403,
        body: { error: { code: 'PERMISSION_DENIED', message: expect.stringMatching(/^Origin: /) } },
      });
    });
  });
});
