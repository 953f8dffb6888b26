import { resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  compileControllerConfig,
  isLoopbackHost,
  parseDurationMs,
  splitHostPort,
} from './controller-config.js';

describe('compileControllerConfig', () => {
  it('fills every default', () => {
    expect(compileControllerConfig()).toEqual({
      grpcAddr: '127.0.0.1:8443',
      httpAddr: '127.0.0.1:8000',
      dataDir: resolve('.crank'),
      certTtlMs: 24 * 3_600_000,
      heartbeatIntervalMs: 30_000,
      missedHeartbeats: 3,
      stuckAfterMs: 120_000,
      queueLimit: 1000,
      queueTimeoutMs: 30_000,
      breakerFailureThreshold: 5,
      breakerCooldownMs: 5_000,
      maxRetries: 2,
      maxInflightBytes: 268_435_456,
      outlierConsecutiveTimeouts: 3,
      outlierEjectionMs: 10_000,
      shutdownGraceMs: 10_000,
      dbUrl: '',
      dbSchema: 'public',
      dbSync: 'normal',
      jobMaxInputBytes: 10_485_760,
      jobRetentionMs: 604_800_000,
      jobLeaseGraceMs: 10_000,
      advertiseAddr: '',
      httpAuth: 'none',
      httpAllowedHosts: [],
      httpAllowedOrigins: [],
    });
  });

  it('reads CRANK_* variables', () => {
    const config = compileControllerConfig(
      {},
      {
        CRANK_GRPC_ADDR: '0.0.0.0:9443',
        CRANK_HTTP_ADDR: '[::1]:9000',
        CRANK_DATA_DIR: '/var/lib/crank',
        CRANK_CERT_TTL: '90m',
        CRANK_HEARTBEAT_MS: '250',
        CRANK_MISSED_HEARTBEATS: '5',
        CRANK_STUCK_MS: '2m',
        CRANK_QUEUE_LIMIT: '0',
        CRANK_QUEUE_TIMEOUT_MS: '1.5s',
      },
    );
    expect(config).toMatchObject({
      grpcAddr: '0.0.0.0:9443',
      httpAddr: '[::1]:9000',
      dataDir: '/var/lib/crank',
      certTtlMs: 90 * 60_000,
      heartbeatIntervalMs: 250,
      missedHeartbeats: 5,
      stuckAfterMs: 120_000,
      queueLimit: 0,
      queueTimeoutMs: 1_500,
    });
  });

  it('reads a TTL in hours and treats an empty variable as unset', () => {
    expect(compileControllerConfig({}, { CRANK_CERT_TTL: '24h', CRANK_HEARTBEAT_MS: '' })).toMatchObject({
      certTtlMs: 86_400_000,
      heartbeatIntervalMs: 30_000,
    });
  });

  it('lets explicit values win over the environment', () => {
    const config = compileControllerConfig(
      { heartbeatIntervalMs: 100, grpcAddr: '127.0.0.1:0' },
      { CRANK_HEARTBEAT_MS: '5s', CRANK_GRPC_ADDR: '0.0.0.0:1' },
    );
    expect(config).toMatchObject({ heartbeatIntervalMs: 100, grpcAddr: '127.0.0.1:0' });
  });

  it('names the variable holding a bad duration', () => {
    expect(() => compileControllerConfig({}, { CRANK_CERT_TTL: 'a day' })).toThrow(
      'CRANK_CERT_TTL: "a day" is not a duration (examples: 500ms, 30s, 24h)',
    );
    expect(() => compileControllerConfig({}, { CRANK_HEARTBEAT_MS: '-5' })).toThrow(/^CRANK_HEARTBEAT_MS: /);
  });

  it('names the variable holding a bad integer', () => {
    expect(() => compileControllerConfig({}, { CRANK_QUEUE_LIMIT: '2.5' })).toThrow(
      'CRANK_QUEUE_LIMIT: must be a non-negative integer (got "2.5")',
    );
    expect(() => compileControllerConfig({}, { CRANK_MISSED_HEARTBEATS: 'three' })).toThrow(
      /^CRANK_MISSED_HEARTBEATS: must be a non-negative integer/,
    );
    expect(() => compileControllerConfig({}, { CRANK_QUEUE_LIMIT: '-1' })).toThrow(/^CRANK_QUEUE_LIMIT: /);
  });

  it('names the address without a port', () => {
    expect(() => compileControllerConfig({}, { CRANK_GRPC_ADDR: 'localhost' })).toThrow(
      'grpcAddr: "localhost" is not host:port',
    );
    expect(() => compileControllerConfig({ httpAddr: '127.0.0.1:' })).toThrow(/^httpAddr: /);
  });

  it('refuses values below the minimums, naming the field', () => {
    expect(() => compileControllerConfig({ heartbeatIntervalMs: 9 })).toThrow(
      'heartbeatIntervalMs: must be at least 10 ms',
    );
    expect(() => compileControllerConfig({}, { CRANK_CERT_TTL: '1s' })).toThrow(
      /^certTtlMs: must be at least /,
    );
    expect(() => compileControllerConfig({}, { CRANK_MISSED_HEARTBEATS: '0' })).toThrow(
      'missedHeartbeats: must be at least 1',
    );
  });
});

describe('compileControllerConfig: HTTP access', () => {
  it('reads the auth mode and the allow-lists, normalising their entries', () => {
    const config = compileControllerConfig(
      {},
      {
        CRANK_HTTP_ADDR: '0.0.0.0:8000',
        CRANK_HTTP_AUTH: 'Keys',
        CRANK_HTTP_ALLOWED_HOSTS: ' Crank.Internal , 10.0.0.5:8000,[fd00::1]:8000,crank.internal,',
        CRANK_HTTP_ALLOWED_ORIGINS: 'https://Ops.Example.com/, http://localhost:3000,https://a.example:443',
      },
    );
    expect(config).toMatchObject({
      httpAuth: 'keys',
      httpAllowedHosts: ['crank.internal', '10.0.0.5:8000', '[fd00::1]:8000'],
      httpAllowedOrigins: ['https://ops.example.com', 'http://localhost:3000', 'https://a.example'],
    });
    expect(
      compileControllerConfig({}, { CRANK_HTTP_ALLOWED_HOSTS: '*', CRANK_HTTP_ALLOWED_ORIGINS: '*' }),
    ).toMatchObject({ httpAllowedHosts: ['*'], httpAllowedOrigins: ['*'] });
  });

  it.each(['0.0.0.0:8000', '[::]:8000', '10.0.0.5:8000', 'crank.example.org:8000'])(
    'refuses to serve %s without HTTP auth, saying what to set',
    (httpAddr) => {
      expect(() => compileControllerConfig({}, { CRANK_HTTP_ADDR: httpAddr })).toThrow(
        `httpAuth: the HTTP API has no authentication and httpAddr "${httpAddr}" (CRANK_HTTP_ADDR) is not a loopback address; ` +
          'set CRANK_HTTP_AUTH=keys (bearer API keys, made with `crank keys create`) or CRANK_HTTP_AUTH=mtls',
      );
    },
  );

  it('serves a non-loopback address with keys or mtls, and loopback without auth', () => {
    expect(compileControllerConfig({ httpAddr: '0.0.0.0:8000', httpAuth: 'mtls' }).httpAuth).toBe('mtls');
    expect(
      compileControllerConfig({}, { CRANK_HTTP_ADDR: '[::]:8000', CRANK_HTTP_AUTH: 'keys' }).httpAuth,
    ).toBe('keys');
    for (const httpAddr of ['127.0.0.2:8000', '[::1]:8000', 'localhost:8000', '[::ffff:127.0.0.1]:0']) {
      expect(compileControllerConfig({ httpAddr }).httpAuth).toBe('none');
    }
  });

  it('names the variable or field holding a bad auth mode or allow-list entry', () => {
    expect(() => compileControllerConfig({}, { CRANK_HTTP_AUTH: 'token' })).toThrow(
      'CRANK_HTTP_AUTH: must be one of none, keys, mtls (got "token")',
    );
    expect(() => compileControllerConfig({ httpAuth: 'basic' as 'none' })).toThrow(
      'httpAuth: must be one of none, keys, mtls (got "basic")',
    );
    expect(() =>
      compileControllerConfig({}, { CRANK_HTTP_ALLOWED_HOSTS: 'ok.example, http://bad.example' }),
    ).toThrow(
      'CRANK_HTTP_ALLOWED_HOSTS: "http://bad.example" is not a host (name, name:port, [IPv6]:port, or *)',
    );
    expect(() => compileControllerConfig({ httpAllowedHosts: ['fd00::1'] })).toThrow(
      /^httpAllowedHosts: "fd00::1" is not a host/,
    );
    for (const origin of ['ops.example.com', 'https://ops.example.com/app', 'file:///tmp', 'null']) {
      expect(() => compileControllerConfig({}, { CRANK_HTTP_ALLOWED_ORIGINS: origin })).toThrow(
        `CRANK_HTTP_ALLOWED_ORIGINS: "${origin}" is not an origin (scheme://host[:port], e.g. https://ops.example.com, or *)`,
      );
    }
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['localhost', true],
    ['LOCALHOST', true],
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
    ['128.0.0.1', false],
    ['localhost.example.org', false],
    ['127.example.org', false],
  ])('%s: %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['250', 250],
    ['250ms', 250],
    ['30s', 30_000],
    ['1.5s', 1_500],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    [' 2s ', 2_000],
  ])('reads %j as %d ms', (text, ms) => {
    expect(parseDurationMs(text, 'field')).toBe(ms);
  });

  it.each(['', 'ms', '10 s', '5w', '-1s', '1e3'])('refuses %j, naming the field', (text) => {
    expect(() => parseDurationMs(text, 'ttl')).toThrow(/^ttl: .* is not a duration/);
  });
});

describe('splitHostPort', () => {
  it('splits a host name and a port', () => {
    expect(splitHostPort('example.org:8443')).toEqual({ host: 'example.org', port: 8443 });
  });

  it('takes an IPv6 address out of its brackets', () => {
    expect(splitHostPort('[::1]:8443')).toEqual({ host: '::1', port: 8443 });
    expect(splitHostPort('[fe80::1%eth0]:0')).toEqual({ host: 'fe80::1%eth0', port: 0 });
  });

  it('refuses an address without a port, an unbracketed IPv6 address and a port out of range', () => {
    expect(() => splitHostPort('example.org', 'grpcAddr')).toThrow(
      'grpcAddr: "example.org" is not host:port',
    );
    expect(() => splitHostPort('::1:8443')).toThrow('address: "::1:8443" is not host:port');
    expect(() => splitHostPort('host:65536', 'httpAddr')).toThrow('httpAddr: port 65536 is out of range');
  });
});
