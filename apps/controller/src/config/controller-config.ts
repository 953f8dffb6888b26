import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { WIRE_LIMITS } from '@crank/proto';

/** Controller settings. Every field has a default that works on one machine. */
export interface ControllerConfig {
  /** gRPC listen address, `host:port` (`CRANK_GRPC_ADDR`). @default '127.0.0.1:8443' */
  grpcAddr: string;
  /** HTTP listen address, `host:port` (`CRANK_HTTP_ADDR`). @default '127.0.0.1:8000' */
  httpAddr: string;
  /** CA key, certificate and bootstrap token live here (`CRANK_DATA_DIR`). @default './.crank' */
  dataDir: string;
  /** Lifetime of issued worker and caller certificates (`CRANK_CERT_TTL`, e.g. `24h`, `90m`). @default 24 h */
  certTtlMs: number;
  /** Interval workers are told to heartbeat at (`CRANK_HEARTBEAT_MS`). @default 30000 */
  heartbeatIntervalMs: number;
  /** Missed beats before a worker is evicted. @default 3 */
  missedHeartbeats: number;
  /** In-flight but no completion for this long marks a worker unhealthy (`CRANK_STUCK_MS`). @default 120000 */
  stuckAfterMs: number;
  /** Calls waiting per capability for a free slot before RESOURCE_EXHAUSTED (`CRANK_QUEUE_LIMIT`). @default 1000 */
  queueLimit: number;
  /** Longest a call waits for a slot when the caller set no deadline (`CRANK_QUEUE_TIMEOUT_MS`). @default 30000 */
  queueTimeoutMs: number;
  /** Consecutive failures that open a worker's circuit breaker. @default 5 */
  breakerFailureThreshold: number;
  /** How long an open breaker keeps a worker out of routing. @default 5000 */
  breakerCooldownMs: number;
  /** Retries on another worker for calls the first worker never accepted. @default 2 */
  maxRetries: number;
  /**
   * Payload bytes the controller holds for calls in flight before it refuses more with
   * RESOURCE_EXHAUSTED (`CRANK_MAX_INFLIGHT_BYTES`). @default 268435456 (256 MiB)
   */
  maxInflightBytes: number;
  /** Calls in a row that run out of time on one worker before it is ejected (`CRANK_OUTLIER_TIMEOUTS`). @default 3 */
  outlierConsecutiveTimeouts: number;
  /** First ejection of a hung worker; doubles per ejection, up to 10x (`CRANK_OUTLIER_EJECTION_MS`). @default 10000 */
  outlierEjectionMs: number;
  /**
   * Longest `close()` lets calls in flight run on shutdown before their connections are closed
   * (`CRANK_SHUTDOWN_GRACE_MS`). @default 10000
   */
  shutdownGraceMs: number;
  /**
   * The job store (`CRANK_DB_URL`): empty for SQLite in `<dataDir>/jobs.db`, or
   * `postgres://user@host:port/db` for PostgreSQL, which several controllers can share.
   * @default ''
   */
  dbUrl: string;
  /** PostgreSQL schema of the job store (`CRANK_DB_SCHEMA`). @default 'public' */
  dbSchema: string;
  /** SQLite durability (`CRANK_DB_SYNC`): `normal` survives a process crash, `full` a power loss. @default 'normal' */
  dbSync: 'normal' | 'full';
  /** Largest job input (`CRANK_JOB_MAX_INPUT`, bytes); larger is PAYLOAD_TOO_LARGE. @default 10485760 */
  jobMaxInputBytes: number;
  /** How long finished jobs are kept before they are purged (`CRANK_JOB_RETENTION`). @default 7 d */
  jobRetentionMs: number;
  /**
   * Added to a job's timeout to make the lease of an attempt (`CRANK_JOB_LEASE_GRACE_MS`): after
   * that, a job whose controller died goes back to pending. @default 10000
   */
  jobLeaseGraceMs: number;
  /**
   * The gRPC address other controllers sharing the PostgreSQL store reach this one at
   * (`CRANK_ADVERTISE_ADDR`, `host:port`). @default the bound address, or this host's name when
   * bound to a wildcard
   */
  advertiseAddr: string;
  /**
   * Who may call the HTTP API (`CRANK_HTTP_AUTH`): `none` (anyone who can reach it, so only on a
   * loopback address), `keys` (a bearer API key from `<dataDir>/api-keys.json`, made with
   * `crank keys create`) or `mtls` (HTTPS, and a client certificate from the Crank CA).
   * @default 'none'
   */
  httpAuth: HttpAuthMode;
  /**
   * `Host` header values the HTTP API accepts besides loopback names and the bound address
   * (`CRANK_HTTP_ALLOWED_HOSTS`, comma-separated): `name` (any port), `name:port`, `[v6]`, or `*`
   * (any host, which gives up the DNS rebinding defence). Lower-cased.
   * @default []
   */
  httpAllowedHosts: string[];
  /**
   * `Origin` header values (web pages) the HTTP API accepts besides pages on loopback names, the
   * bound address and the API's own origin (`CRANK_HTTP_ALLOWED_ORIGINS`, comma-separated):
   * `scheme://host[:port]` or `*`. Stored as browsers serialise them.
   * @default []
   */
  httpAllowedOrigins: string[];
}

/** How HTTP callers prove who they are; see {@link ControllerConfig.httpAuth}. */
export type HttpAuthMode = 'none' | 'keys' | 'mtls';

const HTTP_AUTH_MODES: readonly HttpAuthMode[] = ['none', 'keys', 'mtls'];

export type ControllerConfigInit = Partial<ControllerConfig>;

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `250ms`, `30s`, `15m`, `24h`, `7d` or a bare number of milliseconds. */
export function parseDurationMs(value: string, field: string): number {
  const match = DURATION.exec(value.trim());
  if (!match) throw new Error(`${field}: "${value}" is not a duration (examples: 500ms, 30s, 24h)`);
  return Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1));
}

/** Fills defaults, applies `CRANK_*` environment variables, and validates. Pure. */
export function compileControllerConfig(
  init: ControllerConfigInit = {},
  env: NodeJS.ProcessEnv = {},
): ControllerConfig {
  const duration = (name: string, fallback: number): number =>
    env[name] === undefined || env[name] === '' ? fallback : parseDurationMs(env[name] as string, name);
  const int = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`${name}: must be a non-negative integer (got "${raw}")`);
    return n;
  };
  const config: ControllerConfig = {
    grpcAddr: init.grpcAddr ?? env['CRANK_GRPC_ADDR'] ?? '127.0.0.1:8443',
    httpAddr: init.httpAddr ?? env['CRANK_HTTP_ADDR'] ?? '127.0.0.1:8000',
    dataDir: resolve(init.dataDir ?? env['CRANK_DATA_DIR'] ?? '.crank'),
    certTtlMs: init.certTtlMs ?? duration('CRANK_CERT_TTL', 24 * 3_600_000),
    heartbeatIntervalMs: init.heartbeatIntervalMs ?? duration('CRANK_HEARTBEAT_MS', 30_000),
    missedHeartbeats: init.missedHeartbeats ?? int('CRANK_MISSED_HEARTBEATS', 3),
    stuckAfterMs: init.stuckAfterMs ?? duration('CRANK_STUCK_MS', 120_000),
    queueLimit: init.queueLimit ?? int('CRANK_QUEUE_LIMIT', 1000),
    queueTimeoutMs: init.queueTimeoutMs ?? duration('CRANK_QUEUE_TIMEOUT_MS', 30_000),
    breakerFailureThreshold: init.breakerFailureThreshold ?? 5,
    breakerCooldownMs: init.breakerCooldownMs ?? 5_000,
    maxRetries: init.maxRetries ?? 2,
    maxInflightBytes: init.maxInflightBytes ?? int('CRANK_MAX_INFLIGHT_BYTES', 256 * 1024 * 1024),
    outlierConsecutiveTimeouts: init.outlierConsecutiveTimeouts ?? int('CRANK_OUTLIER_TIMEOUTS', 3),
    outlierEjectionMs: init.outlierEjectionMs ?? duration('CRANK_OUTLIER_EJECTION_MS', 10_000),
    shutdownGraceMs: init.shutdownGraceMs ?? duration('CRANK_SHUTDOWN_GRACE_MS', 10_000),
    dbUrl: init.dbUrl ?? env['CRANK_DB_URL'] ?? '',
    dbSchema: init.dbSchema ?? env['CRANK_DB_SCHEMA'] ?? 'public',
    dbSync: init.dbSync ?? dbSync(env['CRANK_DB_SYNC']),
    jobMaxInputBytes: init.jobMaxInputBytes ?? int('CRANK_JOB_MAX_INPUT', 10 * 1024 * 1024),
    jobRetentionMs: init.jobRetentionMs ?? duration('CRANK_JOB_RETENTION', 7 * 86_400_000),
    jobLeaseGraceMs: init.jobLeaseGraceMs ?? duration('CRANK_JOB_LEASE_GRACE_MS', 10_000),
    advertiseAddr: init.advertiseAddr ?? env['CRANK_ADVERTISE_ADDR'] ?? '',
    httpAuth: httpAuthMode(init.httpAuth, env['CRANK_HTTP_AUTH']),
    httpAllowedHosts: allowList(
      init.httpAllowedHosts,
      env,
      'httpAllowedHosts',
      'CRANK_HTTP_ALLOWED_HOSTS',
      hostEntry,
      'is not a host (name, name:port, [IPv6]:port, or *)',
    ),
    httpAllowedOrigins: allowList(
      init.httpAllowedOrigins,
      env,
      'httpAllowedOrigins',
      'CRANK_HTTP_ALLOWED_ORIGINS',
      originEntry,
      'is not an origin (scheme://host[:port], e.g. https://ops.example.com, or *)',
    ),
  };
  for (const field of ['grpcAddr', 'httpAddr'] as const) splitHostPort(config[field], field);
  if (config.advertiseAddr) splitHostPort(config.advertiseAddr, 'advertiseAddr');
  const httpHost = splitHostPort(config.httpAddr, 'httpAddr').host;
  if (config.httpAuth === 'none' && !isLoopbackHost(httpHost)) {
    throw new Error(
      `httpAuth: the HTTP API has no authentication and httpAddr "${config.httpAddr}" (CRANK_HTTP_ADDR) is not a ` +
        'loopback address; set CRANK_HTTP_AUTH=keys (bearer API keys, made with `crank keys create`) or ' +
        'CRANK_HTTP_AUTH=mtls (HTTPS with client certificates from the Crank CA), or bind CRANK_HTTP_ADDR to 127.0.0.1',
    );
  }
  if (config.heartbeatIntervalMs < 10) throw new Error('heartbeatIntervalMs: must be at least 10 ms');
  if (config.certTtlMs < 2_000) throw new Error('certTtlMs: must be at least 2 s');
  if (config.missedHeartbeats < 1) throw new Error('missedHeartbeats: must be at least 1');
  if (config.maxInflightBytes < 1024) throw new Error('maxInflightBytes: must be at least 1024');
  if (config.outlierConsecutiveTimeouts < 1)
    throw new Error('outlierConsecutiveTimeouts: must be at least 1');
  if (config.dbUrl && !/^postgres(ql)?:\/\//.test(config.dbUrl)) {
    throw new Error('dbUrl: CRANK_DB_URL must be a postgres:// URL, or empty for the embedded SQLite store');
  }
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(config.dbSchema)) {
    throw new Error(`dbSchema: "${config.dbSchema}" (CRANK_DB_SCHEMA) must be a plain lower-case identifier`);
  }
  if (config.jobMaxInputBytes > WIRE_LIMITS.maxMessageBytes) {
    throw new Error(
      `jobMaxInputBytes: CRANK_JOB_MAX_INPUT must be at most ${WIRE_LIMITS.maxMessageBytes} (the largest message)`,
    );
  }
  return config;
}

/**
 * Whether `host` (as {@link splitHostPort} returns it) can only be reached from this machine:
 * `localhost`, 127.0.0.0/8, `::1` or an IPv4-mapped loopback address. A wildcard (`0.0.0.0`, `::`)
 * or any other name is not.
 */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase();
  if (name === 'localhost' || name === '::1' || name === '0:0:0:0:0:0:0:1') return true;
  const v4 = name.startsWith('::ffff:') ? name.slice('::ffff:'.length) : name;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

function httpAuthMode(init: HttpAuthMode | undefined, raw: string | undefined): HttpAuthMode {
  const value = init ?? (raw === undefined || raw === '' ? 'none' : raw.trim().toLowerCase());
  if (!(HTTP_AUTH_MODES as readonly string[]).includes(value)) {
    const field = init === undefined ? 'CRANK_HTTP_AUTH' : 'httpAuth';
    throw new Error(`${field}: must be one of ${HTTP_AUTH_MODES.join(', ')} (got "${value}")`);
  }
  return value as HttpAuthMode;
}

/**
 * Reads a comma-separated allow-list from `init` or the variable `name`, and checks and
 * normalises each entry with `entry`, which returns undefined for a bad one (`rule` says why).
 */
function allowList(
  init: string[] | undefined,
  env: NodeJS.ProcessEnv,
  field: string,
  name: string,
  entry: (text: string) => string | undefined,
  rule: string,
): string[] {
  const raw = init ?? (env[name] ?? '').split(',');
  const label = init === undefined ? name : field;
  const out: string[] = [];
  for (const text of raw.map((t) => t.trim()).filter((t) => t !== '')) {
    const normalised = entry(text);
    if (normalised === undefined) throw new Error(`${label}: "${text}" ${rule}`);
    if (!out.includes(normalised)) out.push(normalised);
  }
  return out;
}

const HOST_ENTRY = /^(\[[0-9a-f:.]+(?:%[\w.-]+)?\]|[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?)(:\d{1,5})?$/;

function hostEntry(text: string): string | undefined {
  const lower = text.toLowerCase();
  return lower === '*' || HOST_ENTRY.test(lower) ? lower : undefined;
}

function originEntry(text: string): string | undefined {
  if (text === '*') return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const bare = url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
  return (url.protocol === 'http:' || url.protocol === 'https:') && bare ? url.origin : undefined;
}

function dbSync(raw: string | undefined): 'normal' | 'full' {
  const value = (raw ?? '').trim().toLowerCase() || 'normal';
  if (value !== 'normal' && value !== 'full')
    throw new Error(`CRANK_DB_SYNC: must be normal or full (got "${raw}")`);
  return value;
}

/** Splits `host:port` (IPv6 in brackets); port 0 asks the OS for a free port. */
export function splitHostPort(addr: string, field = 'address'): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(addr);
  if (!match) throw new Error(`${field}: "${addr}" is not host:port`);
  const port = Number(match[2]);
  if (port > 65535) throw new Error(`${field}: port ${port} is out of range`);
  return { host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port };
}
