import { resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { compileControllerConfig, parseDurationMs, splitHostPort } from './controller-config.js';

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
