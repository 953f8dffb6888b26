import { isIP } from 'node:net';

/** A host as the allow-list compares it: lower-case name (IPv6 in brackets), and a port or any. */
interface Authority {
  name: string;
  port?: string;
}

/** Names every controller answers to, on any port. */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export interface HostAllowListOptions {
  /** Host the HTTP API is bound to, as `splitHostPort` returns it (IPv6 without brackets). */
  boundHost: string;
  /** Extra `Host` entries (`httpAllowedHosts`): `name`, `name:port`, or `*`. */
  allowedHosts: readonly string[];
  /** Extra origins (`httpAllowedOrigins`), serialised as browsers send them, or `*`. */
  allowedOrigins: readonly string[];
}

/**
 * Which `Host` and `Origin` header values the HTTP API accepts.
 *
 * `Host` defends against DNS rebinding: a web page on `evil.example` whose name is made to resolve
 * to 127.0.0.1 can make the browser send requests to the controller, but the browser still sends
 * `Host: evil.example`. Only names the operator chose are accepted: loopback names, the address the
 * API is bound to (when it is one), and `httpAllowedHosts`.
 *
 * `Origin` defends against cross-site requests from web pages (CSRF): a page may POST to
 * `http://127.0.0.1:8000/v1/invoke/...` without a CORS preflight, and the browser then names the
 * page's origin. Accepted: pages on the built-in names above, the API's own origin (the `/docs`
 * page), and `httpAllowedOrigins`. Clients that are not browsers send no `Origin`.
 */
export class HostAllowList {
  /** Names accepted on any port without configuration: loopback, and the bound address. */
  readonly builtinHosts: readonly string[];
  private readonly builtin: Authority[];
  private readonly extra: Authority[];
  private readonly anyHost: boolean;
  private readonly anyOrigin: boolean;
  private readonly origins: ReadonlySet<string>;

  constructor(options: HostAllowListOptions) {
    const bound = options.boundHost.toLowerCase();
    const wildcard = bound === '' || bound === '0.0.0.0' || bound === '::';
    const boundName = isIP(bound) === 6 ? `[${bound}]` : bound;
    this.builtinHosts =
      wildcard || LOOPBACK_NAMES.includes(boundName) ? LOOPBACK_NAMES : [...LOOPBACK_NAMES, boundName];
    this.builtin = this.builtinHosts.map((name) => ({ name }));
    this.anyHost = options.allowedHosts.includes('*');
    this.extra = options.allowedHosts.flatMap((entry) => {
      const authority = splitAuthority(entry);
      return authority ? [authority] : [];
    });
    this.anyOrigin = options.allowedOrigins.includes('*');
    this.origins = new Set(options.allowedOrigins);
  }

  /** Whether a request with this `Host` header may go on; a request without one may not. */
  allowsHost(host: string | undefined): boolean {
    if (host === undefined) return false;
    if (this.anyHost) return true;
    const authority = splitAuthority(host);
    return authority !== undefined && (matches(this.builtin, authority) || matches(this.extra, authority));
  }

  /**
   * Whether a request with this `Origin` header may go on; `host` is the request's `Host`, which
   * {@link allowsHost} already accepted. `null` (sandboxed frames, `file:` pages) is refused.
   */
  allowsOrigin(origin: string, host: string | undefined): boolean {
    if (this.anyOrigin) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    if (this.origins.has(url.origin)) return true;
    if (host !== undefined && url.host === host.trim().toLowerCase()) return true;
    const authority = splitAuthority(url.host);
    return authority !== undefined && matches(this.builtin, authority);
  }
}

function matches(patterns: readonly Authority[], authority: Authority): boolean {
  return patterns.some(
    (pattern) =>
      pattern.name === authority.name && (pattern.port === undefined || pattern.port === authority.port),
  );
}

/** `name`, `name:port`, `[v6]`, `[v6]:port`, lower-cased; undefined for anything else. */
function splitAuthority(value: string): Authority | undefined {
  const match = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/.exec(value.trim().toLowerCase());
  if (!match) return undefined;
  const name = match[1] ?? '';
  return match[2] === undefined ? { name } : { name, port: match[2] };
}
