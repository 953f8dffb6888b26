import type { ServerOptions } from 'node:https';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { ErrorCode } from '@crank/capabilities';
import { ApiKeyStore, apiKeyGrants, type ApiKeyScope, type TlsMaterial } from '@crank/proto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { splitHostPort, type ControllerConfig, type HttpAuthMode } from '../config/controller-config.js';
import { HostAllowList } from './host-allow-list.js';
import { routeAccess } from './route-access.js';

export interface HttpAccessOptions {
  config: Pick<
    ControllerConfig,
    'dataDir' | 'httpAddr' | 'httpAuth' | 'httpAllowedHosts' | 'httpAllowedOrigins'
  >;
  /** The controller's own certificate and the CA; served, and trusted for clients, with `mtls`. */
  identity: TlsMaterial;
  logger: Logger;
  /** The API keys. @default opened from `config.dataDir` when `config.httpAuth` is `keys` */
  keys?: ApiKeyStore;
  /** Clock of the refusal lines' rate limit. @default Date.now */
  now?: () => number;
}

/** Who made a request: an API key or a client certificate, and what it may do. */
/** Who made each authenticated request, by its raw request: the caller its calls and jobs carry. */
const callers = new WeakMap<object, string>();

/**
 * The identity of an HTTP request's caller, as calls and jobs record it: `key:<name>` for an API
 * key, the certificate's CN with mTLS, `http` without authentication.
 */
export function httpCaller(raw: object): string {
  return callers.get(raw) ?? 'http';
}

interface Principal {
  /** The identity calls and jobs record (see {@link httpCaller}). */
  caller: string;
  /** For logs: `key <id> (<name>)` or `certificate <cn> (<ou>)`. */
  label: string;
  keyId?: string;
  grants(scope: ApiKeyScope): boolean;
}

/** Most refusal lines per second; the ones over it are counted in the next line's `suppressed`. */
const REFUSAL_LINES_PER_SECOND = 10;

/**
 * The HTTP API's gate, an `onRequest` hook that runs before body parsing, guards and handlers, for
 * every route including 404s. In order:
 *
 * 1. `GET /health` and `GET /version` pass (probes; they tell nothing secret).
 * 2. `Host` must be on the allow-list, and `Origin`, when sent, too (see {@link HostAllowList}).
 * 3. With `keys`, `Authorization: Bearer crk_...` must name a valid key; with `mtls`, the
 *    connection must carry a client certificate from the Crank CA. Otherwise 401.
 * 4. The key must hold the scope the route needs ({@link routeAccess}); otherwise 403. A client
 *    certificate holds every scope, as it does on gRPC.
 *
 * Refusals answer `{ "error": { "code", "message", "details"? } }` and log one `http_refused` line
 * (never a key), at most {@link REFUSAL_LINES_PER_SECOND} a second.
 */
export class HttpAccess {
  private server: TlsServer | undefined;
  /** Identity of each authorised TLS connection, read once per connection. */
  private readonly peers = new WeakMap<TLSSocket, Principal | null>();
  private windowStartMs = 0;
  private linesInWindow = 0;
  private suppressed = 0;

  protected constructor(
    readonly mode: HttpAuthMode,
    private readonly hosts: HostAllowList,
    private readonly keys: ApiKeyStore | undefined,
    private identity: TlsMaterial,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /**
   * Compiles the allow-lists and, with `keys`, reads the key file.
   *
   * @throws Error when the key file exists but cannot be parsed.
   */
  static async create(options: HttpAccessOptions): Promise<HttpAccess> {
    const { config, logger } = options;
    const hosts = new HostAllowList({
      boundHost: splitHostPort(config.httpAddr, 'httpAddr').host,
      allowedHosts: config.httpAllowedHosts,
      allowedOrigins: config.httpAllowedOrigins,
    });
    const keys =
      config.httpAuth === 'keys' ? (options.keys ?? (await ApiKeyStore.open(config.dataDir))) : undefined;
    logger.info(
      {
        event: 'http_access',
        auth: config.httpAuth,
        allowedHosts: [...hosts.builtinHosts, ...config.httpAllowedHosts],
        allowedOrigins: config.httpAllowedOrigins,
        ...(keys ? { keyFile: keys.file, activeKeys: keys.activeCount } : {}),
      },
      'HTTP access rules',
    );
    if (keys && keys.activeCount === 0) {
      logger.warn(
        { event: 'http_no_api_keys', keyFile: keys.file },
        'no API key yet: create one with `crank keys create --name <name> --scopes invoke`',
      );
    }
    return new HttpAccess(config.httpAuth, hosts, keys, options.identity, logger, options.now ?? Date.now);
  }

  /** `https` with `mtls`, else `http`. */
  get scheme(): 'http' | 'https' {
    return this.mode === 'mtls' ? 'https' : 'http';
  }

  /**
   * Options to spread into the Fastify options: with `mtls`, HTTPS that asks every client for a
   * certificate chained to the Crank CA. A client without one still connects (for the probes), and
   * the hook answers 401 to everything else.
   */
  get serverOptions(): { https: ServerOptions } | Record<string, never> {
    if (this.mode !== 'mtls') return {};
    return {
      https: { ...this.tlsContext(), requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    };
  }

  /** Adds the hook to `fastify` (before it is ready). */
  install(fastify: FastifyInstance): void {
    if (this.mode === 'mtls') this.server = fastify.server as unknown as TlsServer;
    fastify.addHook('onRequest', (request, reply) => this.check(request, reply));
  }

  /** Serves a renewed certificate to new connections (with `mtls`); open ones keep theirs. */
  updateIdentity(identity: TlsMaterial): void {
    this.identity = identity;
    this.server?.setSecureContext(this.tlsContext());
  }

  private tlsContext(): { ca: string; cert: string; key: string } {
    return { ca: this.identity.caPem, cert: this.identity.certPem, key: this.identity.keyPem };
  }

  private async check(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const access = routeAccess(request.method, request.routeOptions.url);
    if (access === 'open') return;

    const { host, origin } = request.headers;
    if (!this.hosts.allowsHost(host)) {
      return this.refuse(request, reply, 403, 'PERMISSION_DENIED', {
        reason: 'host_not_allowed',
        message:
          host === undefined
            ? 'Host: the header is required'
            : `Host: "${clip(host)}" is not a name this controller answers to; add it to CRANK_HTTP_ALLOWED_HOSTS`,
        details: { header: 'host' },
        log: { host },
      });
    }
    if (origin !== undefined && !this.hosts.allowsOrigin(origin, host)) {
      return this.refuse(request, reply, 403, 'PERMISSION_DENIED', {
        reason: 'origin_not_allowed',
        message: `Origin: web pages from "${clip(origin)}" may not call this API; add the origin to CRANK_HTTP_ALLOWED_ORIGINS`,
        details: { header: 'origin' },
        log: { origin },
      });
    }
    if (this.mode === 'none') return;

    const principal = this.mode === 'mtls' ? this.certificate(request) : await this.apiKey(request, reply);
    if (principal === undefined) return; // apiKey() has answered
    if (principal === null) {
      return this.refuse(request, reply, 401, 'UNAUTHENTICATED', {
        reason: 'no_client_certificate',
        message: 'a client certificate issued by the Crank CA is required (see `crank enroll`)',
      });
    }
    if (access !== 'authenticated' && !principal.grants(access)) {
      return this.refuse(request, reply, 403, 'PERMISSION_DENIED', {
        reason: 'scope_missing',
        message: `${principal.label} lacks the scope "${access}" that ${request.method} ${request.routeOptions.url ?? ''} needs`,
        details: { scope: access },
        log: { scope: access, ...(principal.keyId ? { keyId: principal.keyId } : {}) },
      });
    }
    callers.set(request.raw, principal.caller);
  }

  /** The key of `Authorization: Bearer`, or undefined once a 401 has been sent. */
  private async apiKey(request: FastifyRequest, reply: FastifyReply): Promise<Principal | undefined> {
    const keys = this.keys as ApiKeyStore;
    try {
      await keys.refresh();
    } catch (error) {
      // The store is empty now (fail closed); said once per change of the file.
      this.logger.error(
        { event: 'api_keys_reload_failed', keyFile: keys.file, err: error },
        'API key file is not valid; no key is accepted until it is fixed',
      );
    }
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      this.refuse(request, reply, 401, 'UNAUTHENTICATED', {
        reason: header === undefined ? 'no_api_key' : 'not_bearer',
        message:
          'Authorization: an API key is required (Authorization: Bearer crk_...; see `crank keys create`)',
      });
      return undefined;
    }
    const verdict = keys.verify(match[1] ?? '');
    if (!verdict.ok) {
      this.refuse(request, reply, 401, 'UNAUTHENTICATED', {
        reason: `api_key_${verdict.reason}`,
        message: 'Authorization: the API key is not valid (unknown, revoked or mistyped)',
        log: verdict.keyId ? { keyId: verdict.keyId } : {},
      });
      return undefined;
    }
    const { key } = verdict;
    return {
      caller: `key:${key.name}`,
      label: `API key "${key.id}" (${key.name})`,
      keyId: key.id,
      grants: (scope) => apiKeyGrants(key, scope),
    };
  }

  /** The client certificate's identity, or null without a valid one. */
  private certificate(request: FastifyRequest): Principal | null {
    const socket = request.raw.socket as TLSSocket;
    const seen = this.peers.get(socket);
    if (seen !== undefined) return seen;
    let principal: Principal | null = null;
    if (socket.authorized) {
      const subject = socket.getPeerCertificate().subject as Record<string, string | string[]> | undefined;
      const first = (value: string | string[] | undefined): string =>
        (Array.isArray(value) ? value[0] : value) ?? '?';
      principal = {
        caller: first(subject?.['CN']),
        label: `certificate ${first(subject?.['CN'])} (${first(subject?.['OU'])})`,
        grants: () => true,
      };
    }
    this.peers.set(socket, principal);
    return principal;
  }

  private refuse(
    request: FastifyRequest,
    reply: FastifyReply,
    status: 401 | 403,
    code: ErrorCode,
    refusal: {
      reason: string;
      message: string;
      details?: Record<string, unknown>;
      log?: Record<string, unknown>;
    },
  ): void {
    this.logRefusal({
      status,
      code,
      reason: refusal.reason,
      method: request.method,
      path: request.url.split('?')[0],
      remote: request.ip,
      ...refusal.log,
    });
    if (status === 401 && this.mode === 'keys') void reply.header('www-authenticate', 'Bearer realm="crank"');
    const error = {
      code,
      message: refusal.message,
      ...(refusal.details ? { details: refusal.details } : {}),
    };
    void reply.code(status).header('content-type', 'application/json').send({ error });
  }

  private logRefusal(fields: Record<string, unknown>): void {
    const now = this.now();
    if (now - this.windowStartMs >= 1_000) {
      this.windowStartMs = now;
      this.linesInWindow = 0;
    }
    if (this.linesInWindow >= REFUSAL_LINES_PER_SECOND) {
      this.suppressed += 1;
      return;
    }
    this.linesInWindow += 1;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.logger.warn(
      { event: 'http_refused', ...fields, ...(suppressed > 0 ? { suppressed } : {}) },
      'refused an HTTP request',
    );
  }
}

/** Header values echoed in messages are cut short: they come from the caller. */
function clip(value: string): string {
  return value.length > 100 ? `${value.slice(0, 100)}...` : value;
}
