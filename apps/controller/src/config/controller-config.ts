import { resolve } from 'node:path';

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
}

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
  };
  for (const field of ['grpcAddr', 'httpAddr'] as const) splitHostPort(config[field], field);
  if (config.heartbeatIntervalMs < 10) throw new Error('heartbeatIntervalMs: must be at least 10 ms');
  if (config.certTtlMs < 2_000) throw new Error('certTtlMs: must be at least 2 s');
  if (config.missedHeartbeats < 1) throw new Error('missedHeartbeats: must be at least 1');
  return config;
}

/** Splits `host:port` (IPv6 in brackets); port 0 asks the OS for a free port. */
export function splitHostPort(addr: string, field = 'address'): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(addr);
  if (!match) throw new Error(`${field}: "${addr}" is not host:port`);
  const port = Number(match[2]);
  if (port > 65535) throw new Error(`${field}: port ${port} is out of range`);
  return { host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port };
}
