import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { webcrypto } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import * as x509 from '@peculiar/x509';
import { ApiKeyStore, type TlsMaterial } from '@crank/proto';
import { fastify, type FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { compileControllerConfig, type ControllerConfigInit } from '../config/controller-config.js';
import { CertificateAuthority } from '../pki/certificate-authority.js';
import { HttpAccess } from './http-access.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** A logger whose JSON lines the test reads. */
function capturedLogger(): { logger: Logger; lines: Record<string, unknown>[]; text: () => string } {
  const raw: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void raw.push(line) });
  return {
    logger,
    get lines() {
      return raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    text: () => raw.join(''),
  };
}

/** The API's routes as far as access rules go; each answers which route served it. */
function routes(app: FastifyInstance): FastifyInstance {
  for (const url of ['/health', '/version', '/metrics', '/v1/capabilities', '/v1/jobs', '/v1/jobs/:id']) {
    app.get(url, async () => ({ served: url }));
  }
  for (const url of ['/v1/invoke/:capability', '/v1/jobs', '/v1/stream/:capability', '/v1/admin-thing']) {
    app.post(url, async () => ({ served: url }));
  }
  return app;
}

const NO_TLS: TlsMaterial = { caPem: '', certPem: '', keyPem: '' };

interface Answer {
  statusCode: number;
  headers: IncomingHttpHeaders;
  json(): unknown;
}

/**
 * One request over a real socket. (`fastify.inject` would be lighter, but light-my-request loads
 * the ESM-only `cookie` 2 with `require`, which Jest's ESM mode cannot do on Node 20.)
 */
function send(
  app: FastifyInstance,
  options: { method: 'GET' | 'POST'; url: string; headers?: OutgoingHttpHeaders; payload?: string },
): Promise<Answer> {
  const { port } = app.server.address() as { port: number };
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method,
        path: options.url,
        headers: options.headers,
        agent: false,
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        res.on('end', () =>
          resolve({
            statusCode: res.statusCode ?? 0,
            headers: res.headers,
            json: () => JSON.parse(text) as unknown,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.payload);
  });
}

async function gate(
  init: ControllerConfigInit,
  extra: { keys?: ApiKeyStore; now?: () => number; identity?: TlsMaterial } = {},
): Promise<{ app: FastifyInstance; access: HttpAccess; log: ReturnType<typeof capturedLogger> }> {
  const log = capturedLogger();
  const access = await HttpAccess.create({
    config: compileControllerConfig(init),
    identity: extra.identity ?? NO_TLS,
    logger: log.logger,
    ...(extra.keys ? { keys: extra.keys } : {}),
    ...(extra.now ? { now: extra.now } : {}),
  });
  const app = routes(fastify(access.serverOptions as object));
  access.install(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, access, log };
}

describe('HttpAccess: Host and Origin', () => {
  let app: FastifyInstance;
  let log: ReturnType<typeof capturedLogger>;

  beforeAll(async () => {
    ({ app, log } = await gate({ httpAddr: '127.0.0.1:8000' }));
  });

  afterAll(async () => {
    await app.close();
  });

  it('serves requests to loopback names without auth when auth is off', async () => {
    for (const host of ['localhost:8000', '127.0.0.1', '[::1]:8000']) {
      const res = await send(app, { method: 'GET', url: '/v1/capabilities', headers: { host } });
      expect(res.statusCode).toBe(200);
    }
    const invoked = await send(app, {
      method: 'POST',
      url: '/v1/invoke/debug.echo',
      headers: { host: 'localhost' },
    });
    expect(invoked.json()).toEqual({ served: '/v1/invoke/:capability' });
  });

  it('refuses a foreign Host with 403 naming the header, and logs the refusal', async () => {
    const res = await send(app, {
      method: 'GET',
      url: '/v1/workers?x=1',
      headers: { host: 'evil.example:8000' },
    });
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({
      error: {
        code: 'PERMISSION_DENIED',
        message:
          'Host: "evil.example:8000" is not a name this controller answers to; add it to CRANK_HTTP_ALLOWED_HOSTS',
        details: { header: 'host' },
      },
    });
    expect(log.lines.at(-1)).toMatchObject({
      event: 'http_refused',
      status: 403,
      code: 'PERMISSION_DENIED',
      reason: 'host_not_allowed',
      method: 'GET',
      path: '/v1/workers',
      host: 'evil.example:8000',
    });
  });

  it('refuses a page from another site, even on a loopback Host', async () => {
    for (const origin of ['https://evil.example', 'null']) {
      const res = await send(app, {
        method: 'POST',
        url: '/v1/invoke/debug.echo',
        headers: { host: '127.0.0.1:8000', origin, 'content-type': 'text/plain' },
        payload: 'hi',
      });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({
        error: {
          code: 'PERMISSION_DENIED',
          message: `Origin: web pages from "${origin}" may not call this API; add the origin to CRANK_HTTP_ALLOWED_ORIGINS`,
          details: { header: 'origin' },
        },
      });
    }
  });

  it('serves pages on loopback and its own origin', async () => {
    for (const origin of ['http://localhost:3000', 'http://127.0.0.1:8000']) {
      const res = await send(app, {
        method: 'GET',
        url: '/v1/capabilities',
        headers: { host: '127.0.0.1:8000', origin },
      });
      expect(res.statusCode).toBe(200);
    }
  });

  it('answers the probes whatever the Host, so that probes by pod IP work', async () => {
    for (const url of ['/health', '/version']) {
      const res = await send(app, { method: 'GET', url, headers: { host: '10.1.2.3:8000' } });
      expect(res.statusCode).toBe(200);
    }
  });

  it('accepts configured hosts and origins', async () => {
    const configured = await gate({
      httpAddr: '127.0.0.1:8000',
      httpAllowedHosts: ['crank.internal'],
      httpAllowedOrigins: ['https://ops.example.com'],
    });
    try {
      const res = await send(configured.app, {
        method: 'POST',
        url: '/v1/invoke/debug.echo',
        headers: { host: 'crank.internal:8000', origin: 'https://ops.example.com' },
      });
      expect(res.statusCode).toBe(200);
    } finally {
      await configured.app.close();
    }
  });

  it('logs at most ten refusals a second, then counts the ones it left out', async () => {
    let nowMs = 5_000;
    const limited = await gate({ httpAddr: '127.0.0.1:8000' }, { now: () => nowMs });
    try {
      const refused = (): Promise<unknown> =>
        send(limited.app, { method: 'GET', url: '/v1/workers', headers: { host: 'evil.example' } });
      for (let i = 0; i < 25; i += 1) await refused();
      const countRefusals = (): number =>
        limited.log.lines.filter((l) => l['event'] === 'http_refused').length;
      expect(countRefusals()).toBe(10);
      nowMs += 1_000;
      await refused();
      expect(countRefusals()).toBe(11);
      expect(limited.log.lines.at(-1)).toMatchObject({ event: 'http_refused', suppressed: 15 });
    } finally {
      await limited.app.close();
    }
  });
});

describe('HttpAccess: API keys', () => {
  let dataDir: string;
  let nowMs: number;
  let cli: ApiKeyStore;
  let app: FastifyInstance;
  let log: ReturnType<typeof capturedLogger>;
  let invokeKey: string;
  let invokeKeyId: string;
  let adminKey: string;

  const call = (method: 'GET' | 'POST', url: string, key?: string) =>
    send(app, {
      method,
      url,
      headers: { host: 'localhost:8000', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    });

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'crank-http-access-'));
    nowMs = 1_000_000;
    cli = await ApiKeyStore.open(dataDir);
    ({
      key: invokeKey,
      info: { id: invokeKeyId },
    } = await cli.create({ name: 'ci', scopes: ['invoke'] }));
    ({ key: adminKey } = await cli.create({ name: 'ops', scopes: ['admin'] }));
    const keys = await ApiKeyStore.open(dataDir, { now: () => nowMs });
    ({ app, log } = await gate({ httpAddr: '0.0.0.0:8000', httpAuth: 'keys', dataDir }, { keys }));
  });

  afterEach(async () => {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 401 with WWW-Authenticate: Bearer without a key, or with a bad one', async () => {
    for (const key of [undefined, 'crk_000000000000_' + 'a'.repeat(43), 'not-a-key']) {
      const res = await call('GET', '/v1/capabilities', key);
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="crank"');
      expect(res.json()).toMatchObject({
        error: { code: 'UNAUTHENTICATED', message: expect.stringMatching(/^Authorization: /) },
      });
    }
    const basic = await send(app, {
      method: 'GET',
      url: '/v1/capabilities',
      headers: { host: 'localhost', authorization: 'Basic dXNlcjpwYXNz' },
    });
    expect(basic.statusCode).toBe(401);
    expect(log.lines.filter((l) => l['event'] === 'http_refused').map((l) => l['reason'])).toEqual([
      'no_api_key',
      'api_key_unknown',
      'api_key_malformed',
      'not_bearer',
    ]);
  });

  it('serves a route to a key that holds its scope, and any read to any key', async () => {
    expect((await call('POST', '/v1/invoke/debug.echo', invokeKey)).json()).toEqual({
      served: '/v1/invoke/:capability',
    });
    expect((await call('POST', '/v1/stream/stream.aggregate', invokeKey)).statusCode).toBe(200);
    expect((await call('GET', '/v1/capabilities', invokeKey)).statusCode).toBe(200);
    expect((await call('GET', '/metrics', invokeKey)).statusCode).toBe(200);
  });

  it('answers 403 naming the scope to a valid key without it', async () => {
    const res = await call('GET', '/v1/jobs/42', invokeKey);
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({
      error: {
        code: 'PERMISSION_DENIED',
        message: `API key "${invokeKeyId}" (ci) lacks the scope "jobs" that GET /v1/jobs/:id needs`,
        details: { scope: 'jobs' },
      },
    });
    expect((await call('POST', '/v1/admin-thing', invokeKey)).json()).toMatchObject({
      error: { code: 'PERMISSION_DENIED', details: { scope: 'admin' } },
    });
    expect(log.lines.at(-1)).toMatchObject({ reason: 'scope_missing', scope: 'admin', keyId: invokeKeyId });
  });

  it('lets an admin key do everything', async () => {
    for (const [method, url] of [
      ['POST', '/v1/invoke/debug.echo'],
      ['GET', '/v1/jobs'],
      ['POST', '/v1/jobs'],
      ['POST', '/v1/admin-thing'],
    ] as const) {
      expect((await call(method, url, adminKey)).statusCode).toBe(200);
    }
  });

  it('keeps the probes open, and answers 401 rather than 404 to strangers', async () => {
    expect((await call('GET', '/health')).statusCode).toBe(200);
    expect((await call('GET', '/version')).statusCode).toBe(200);
    expect((await call('GET', '/v1/nothing-here')).statusCode).toBe(401);
    expect((await call('GET', '/v1/nothing-here', invokeKey)).statusCode).toBe(404);
  });

  it('stops accepting a revoked key within the reload interval, without a restart', async () => {
    expect((await call('POST', '/v1/invoke/debug.echo', invokeKey)).statusCode).toBe(200);
    await cli.revoke(invokeKeyId);
    nowMs += 1_000;
    expect((await call('POST', '/v1/invoke/debug.echo', invokeKey)).statusCode).toBe(401);
    expect(log.lines.at(-1)).toMatchObject({ reason: 'api_key_revoked', keyId: invokeKeyId });
  });

  it('accepts a key created after start', async () => {
    const { key } = await cli.create({ name: 'late', scopes: ['jobs'] });
    nowMs += 1_000;
    expect((await call('GET', '/v1/jobs', key)).statusCode).toBe(200);
  });

  it('never logs a key', async () => {
    const wrongSecret = `${invokeKey.slice(0, -1)}${invokeKey.endsWith('A') ? 'B' : 'A'}`;
    await call('GET', '/v1/capabilities', wrongSecret);
    await call('POST', '/v1/admin-thing', invokeKey);
    const secretOf = (key: string): string => key.slice('crk_000000000000_'.length);
    expect(log.text()).not.toContain(secretOf(invokeKey));
    expect(log.text()).not.toContain(secretOf(wrongSecret));
    expect(log.lines.some((l) => l['reason'] === 'api_key_mismatch')).toBe(true);
  });
});

describe('HttpAccess: mTLS', () => {
  let dir: string;
  let ca: CertificateAuthority;
  let app: FastifyInstance;
  let access: HttpAccess;
  let port: number;
  let client: { certPem: string; keyPem: string };

  const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

  async function callerCertificate(name: string): Promise<{ certPem: string; keyPem: string }> {
    const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${name}`,
      keys: keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'],
      signingAlgorithm: ALGORITHM,
    });
    const signed = await ca.signCsr(csr.toString('pem'), 'caller', 3_600_000);
    const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
    return { certPem: signed.certPem, keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
  }

  async function identity(): Promise<TlsMaterial> {
    const own = await ca.issueControllerCertificate(3_600_000);
    return { caPem: ca.certPem, certPem: own.certPem, keyPem: own.keyPem };
  }

  function get(
    path: string,
    cert?: { certPem: string; keyPem: string },
  ): Promise<{ status: number; body: unknown; serverSerial: string }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path,
          ca: ca.certPem,
          servername: 'localhost',
          agent: false,
          ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
        },
        (res) => {
          const serverSerial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), serverSerial }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crank-http-mtls-'));
    ca = await CertificateAuthority.loadOrCreate(dir);
    client = await callerCertificate('alice');
    const log = capturedLogger();
    access = await HttpAccess.create({
      config: compileControllerConfig({ httpAddr: '0.0.0.0:0', httpAuth: 'mtls', dataDir: dir }),
      identity: await identity(),
      logger: log.logger,
    });
    expect(access.scheme).toBe('https');
    app = routes(fastify(access.serverOptions as object));
    access.install(app);
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a caller with a certificate from the Crank CA', async () => {
    expect(await get('/v1/capabilities', client)).toMatchObject({
      status: 200,
      body: { served: '/v1/capabilities' },
    });
  });

  it('answers 401 without a client certificate, and the probes all the same', async () => {
    expect(await get('/v1/capabilities')).toMatchObject({
      status: 401,
      body: { error: { code: 'UNAUTHENTICATED', message: expect.stringContaining('client certificate') } },
    });
    expect(await get('/health')).toMatchObject({ status: 200 });
  });

  it('serves a renewed certificate to new connections', async () => {
    const before = (await get('/health')).serverSerial;
    const renewed = await identity();
    access.updateIdentity(renewed);
    const after = (await get('/health')).serverSerial;
    expect(after).not.toBe(before);
    const bare = (serial: string): string => serial.toLowerCase().replace(/^0+/, '');
    expect(bare(after)).toBe(bare(new x509.X509Certificate(renewed.certPem).serialNumber));
  });
});
