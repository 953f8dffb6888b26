import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { controllerLocation, type ControllerLocation } from '@crank/controller-client';
import { pino, type Logger } from 'pino';
import type { ServedCapability } from './handler.js';

/** Options of {@link startWorker}. Every field but `name` and `capabilities` has a default. */
export interface WorkerOptions {
  /** Short name of the worker kind (`echo`, `doc-converter`); the id is derived from it. */
  name: string;
  /** What this worker serves. */
  capabilities: readonly ServedCapability[];
  /** Worker id, a DNS label (`CRANK_WORKER_ID`). @default `${name}-${6 random hex}` */
  workerId?: string;
  /** Controller gRPC address (`CRANK_CONTROLLER_URL`). @default '127.0.0.1:8443' */
  controllerUrl?: string;
  /**
   * Controllers to fail over between, first preferred (`CRANK_CONTROLLER_URLS`, comma-separated):
   * when the current one stops answering for 3 heartbeats in a row, the worker registers with the
   * next. They must share one CA (a cluster of controllers on one PostgreSQL store).
   * @default `[controllerUrl]`
   */
  controllerUrls?: readonly string[];
  /** Controller data dir holding `ca.crt` and `bootstrap-token` (`CRANK_DATA_DIR`). @default './.crank' */
  dataDir?: string;
  /** CA certificate file (`CRANK_CA_FILE`). @default `${dataDir}/ca.crt` */
  caFile?: string;
  /** Bootstrap token (`CRANK_BOOTSTRAP_TOKEN`). @default read from `${dataDir}/bootstrap-token` */
  bootstrapToken?: string;
  /** Interface the gRPC server listens on (`CRANK_WORKER_HOST`). @default '127.0.0.1' */
  host?: string;
  /** gRPC port (`CRANK_WORKER_GRPC_PORT`); 0 picks a free one. @default 0 */
  grpcPort?: number;
  /** Host the controller should dial (`CRANK_ADVERTISE_HOST`). @default `host` */
  advertiseHost?: string;
  /** HTTP port for /health, /metrics, /version, /docs (`CRANK_WORKER_HTTP_PORT`); 0 picks one. @default 0 */
  httpPort?: number;
  /**
   * The worker's own GET routes on its HTTP port, beside /health, /metrics, /version and /docs
   * (a live view, a download). Matched by path prefix, first match wins.
   */
  httpRoutes?: readonly WorkerHttpRoute[];
  /** Longest wait for in-flight calls on shutdown (`CRANK_DRAIN_MS`). @default 30000 */
  drainTimeoutMs?: number;
  /** Heartbeat interval until the controller says otherwise. @default 30000 */
  heartbeatIntervalMs?: number;
  /** Ceiling of the reconnect backoff while the controller is down. @default 5000 */
  maxBackoffMs?: number;
  /** Renew the certificate when this share of its lifetime is left. @default 0.33 */
  renewAtRemainingFraction?: number;
  /** Whether this worker runs capabilities on a GPU (routing prefers it). @default false */
  gpu?: boolean;
  labels?: Record<string, string>;
  logger?: Logger;
}

/** A GET route of a worker's HTTP port: `prefix` is matched against the path (`/streams/`). */
export interface WorkerHttpRoute {
  prefix: string;
  handle(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}

/** {@link WorkerOptions} with every default filled and checked. */
export interface CompiledWorkerOptions {
  name: string;
  workerId: string;
  capabilities: readonly ServedCapability[];
  location: ControllerLocation;
  /** Every controller address, `location.address` first. */
  controllerUrls: readonly string[];
  host: string;
  grpcPort: number;
  advertiseHost: string;
  httpPort: number;
  httpRoutes: readonly WorkerHttpRoute[];
  drainTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxBackoffMs: number;
  renewAtRemainingFraction: number;
  gpu: boolean;
  labels: Record<string, string>;
  logger: Logger;
}

const ID_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Fills defaults from `env`, validates, and names the field at fault on error. */
export function compileWorkerOptions(
  options: WorkerOptions,
  env: NodeJS.ProcessEnv = process.env,
): CompiledWorkerOptions {
  if (!options.name) throw new TypeError('name: is required');
  if (options.capabilities.length === 0) throw new TypeError('capabilities: serve at least one capability');
  const seen = new Set<string>();
  for (const served of options.capabilities) {
    if (seen.has(served.capability.key))
      throw new TypeError(`capabilities: ${served.capability.key} is served twice`);
    seen.add(served.capability.key);
  }
  const workerId =
    options.workerId ??
    env['CRANK_WORKER_ID'] ??
    `${options.name
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .slice(0, 48)}-${randomBytes(3).toString('hex')}`;
  if (!ID_PATTERN.test(workerId))
    throw new TypeError(`workerId: "${workerId}" must be a lowercase DNS label`);
  const num = (value: number | undefined, name: string, fallback: number): number => {
    const raw = value ?? (env[name] === undefined || env[name] === '' ? undefined : Number(env[name]));
    const n = raw ?? fallback;
    if (!Number.isFinite(n) || n < 0)
      throw new TypeError(`${name}: must be a non-negative number (got ${String(raw)})`);
    return n;
  };
  const host = options.host ?? env['CRANK_WORKER_HOST'] ?? '127.0.0.1';
  const listed =
    options.controllerUrls ??
    (env['CRANK_CONTROLLER_URLS'] ?? '')
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url !== '');
  const location = controllerLocation(
    {
      ...((options.controllerUrl ?? listed[0]) ? { address: options.controllerUrl ?? listed[0] } : {}),
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      ...(options.caFile ? { caFile: options.caFile } : {}),
      ...(options.bootstrapToken ? { bootstrapToken: options.bootstrapToken } : {}),
    },
    env,
  );
  const controllerUrls = [
    location.address,
    ...listed.map((url) => url.replace(/^[a-z]+:\/\//, '')).filter((url) => url !== location.address),
  ];
  const fraction = options.renewAtRemainingFraction ?? 0.33;
  if (fraction <= 0 || fraction >= 1)
    throw new TypeError('renewAtRemainingFraction: must be between 0 and 1');
  return {
    name: options.name,
    workerId,
    capabilities: options.capabilities,
    location,
    controllerUrls,
    host,
    grpcPort: num(options.grpcPort, 'CRANK_WORKER_GRPC_PORT', 0),
    advertiseHost:
      options.advertiseHost ?? env['CRANK_ADVERTISE_HOST'] ?? (host === '0.0.0.0' ? hostname() : host),
    httpPort: num(options.httpPort, 'CRANK_WORKER_HTTP_PORT', 0),
    httpRoutes: options.httpRoutes ?? [],
    drainTimeoutMs: num(options.drainTimeoutMs, 'CRANK_DRAIN_MS', 30_000),
    heartbeatIntervalMs: num(options.heartbeatIntervalMs, 'CRANK_HEARTBEAT_MS', 30_000),
    maxBackoffMs: options.maxBackoffMs ?? 5_000,
    renewAtRemainingFraction: fraction,
    gpu: options.gpu ?? false,
    labels: { ...options.labels },
    logger: (options.logger ?? pino({ name: `crank-worker`, level: env['CRANK_LOG_LEVEL'] ?? 'info' })).child(
      { workerId },
    ),
  };
}
