import type { ApiKeyScope } from '@crank/proto';

/**
 * What a request needs when HTTP auth is on: nothing (`open`, the probes), any valid key or
 * client certificate (`authenticated`), or a key with a scope (`admin` keys hold every scope).
 */
export type RouteAccess = 'open' | 'authenticated' | ApiKeyScope;

/**
 * The access a route needs, from its method and its route pattern (Fastify's
 * `request.routeOptions.url`, e.g. `/v1/invoke/:capability`), not from the raw URL, so that no
 * spelling of a path (encoded characters, doubled slashes) can pick a weaker rule than the route
 * that serves it.
 *
 * - `GET /health`, `GET /version`: open, so that probes need no credential.
 * - `GET /ui`, `/ui/*`: open. The dashboard's static files hold no data, and a browser cannot
 *   attach a bearer key to a page load; every API call the pages make is checked as usual.
 * - `/v1/invoke/*`, `/v1/stream/*`: `invoke`. `/v1/jobs`, `/v1/jobs/*`: `jobs`.
 * - Other reads (`/v1/capabilities`, `/v1/workers`, `/metrics`, `/docs`): authenticated.
 * - Any other write: `admin`, so that a route added later is closed until a rule names it.
 * - No route (a 404): authenticated, so that unauthenticated callers cannot map the API.
 */
export function routeAccess(method: string, route: string | undefined): RouteAccess {
  if (route === undefined) return 'authenticated';
  const read = method === 'GET' || method === 'HEAD';
  if (read && (route === '/health' || route === '/version')) return 'open';
  if (read && under(route, '/ui')) return 'open';
  if (under(route, '/v1/invoke') || under(route, '/v1/stream')) return 'invoke';
  if (under(route, '/v1/jobs')) return 'jobs';
  return read ? 'authenticated' : 'admin';
}

function under(route: string, prefix: string): boolean {
  return route === prefix || route.startsWith(`${prefix}/`);
}
