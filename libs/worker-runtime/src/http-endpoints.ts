import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CapabilitySlots } from './capability-slots.js';
import type { WorkerMetrics } from './worker-metrics.js';
import type { WorkerHttpRoute } from './worker-options.js';

/** What the HTTP endpoints read from the running worker. */
export interface WorkerStatusSource {
  workerId: string;
  name: string;
  state(): string;
  registered(): boolean;
  slots: CapabilitySlots;
  metrics: WorkerMetrics;
  runtimeVersion: string;
  /** The worker's own GET routes, tried by prefix after the built-in ones. */
  routes?: readonly WorkerHttpRoute[];
}

/**
 * The worker's own HTTP endpoints, on plain node:http so that a worker needs no web framework:
 * `/health` (200 serving, 503 otherwise), `/metrics` (Prometheus text), `/version`, `/docs` (the
 * capability contracts, HTML) and `/docs/json`.
 */
export async function startHttpEndpoints(
  source: WorkerStatusSource,
  host: string,
  port: number,
): Promise<Server> {
  const server = createServer((req, res) => {
    handle(source, req, res).catch(() =>
      send(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  server.unref();
  return server;
}

export function httpPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

async function handle(source: WorkerStatusSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET') {
    send(res, 405, { error: { code: 'INVALID_INPUT', message: `${req.method}: only GET is served` } });
    return;
  }
  switch (path) {
    case '/health': {
      const state = source.state();
      const serving = state === 'serving';
      send(res, serving ? 200 : 503, {
        status: state,
        workerId: source.workerId,
        registered: source.registered(),
        inFlight: source.slots.inFlight,
        completed: source.slots.completed,
        capabilities: [...source.slots.entries.values()].map((e) => ({
          id: e.served.capability.id,
          version: e.served.capability.version,
          ready: e.ready,
          reason: e.reason,
          inFlight: e.inFlight,
        })),
      });
      return;
    }
    case '/metrics':
      res.writeHead(200, { 'content-type': source.metrics.registry.contentType });
      res.end(await source.metrics.registry.metrics());
      return;
    case '/version':
      send(res, 200, {
        name: source.name,
        workerId: source.workerId,
        runtime: source.runtimeVersion,
        node: process.version,
      });
      return;
    case '/docs/json':
      send(res, 200, docs(source));
      return;
    case '/docs':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(docsHtml(source));
      return;
    default: {
      const route = source.routes?.find((r) => path?.startsWith(r.prefix));
      if (route) {
        await route.handle(req, res);
        return;
      }
      send(res, 404, { error: { code: 'NOT_FOUND', message: `${path}: no such endpoint` } });
    }
  }
}

function docs(source: WorkerStatusSource): unknown {
  return {
    worker: source.name,
    capabilities: [...source.slots.entries.values()].map(({ served: { capability } }) => ({
      id: capability.id,
      version: capability.version,
      description: capability.definition.description,
      streaming: capability.definition.streaming,
      errorCodes: capability.definition.errorCodes,
      resources: capability.definition.resources,
      inputSchema: capability.definition.inputSchema,
      outputSchema: capability.definition.outputSchema,
    })),
  };
}

function docsHtml(source: WorkerStatusSource): string {
  const escape = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const sections = [...source.slots.entries.values()]
    .map(({ served: { capability: c } }) => {
      const d = c.definition;
      return `<section><h2>${escape(c.key)}</h2><p>${escape(d.description ?? '')}</p>
<p>streaming: ${d.streaming}; max concurrency: ${d.resources.maxConcurrency}; errors: ${escape(d.errorCodes.join(', '))}</p>
<h3>Input</h3><pre>${escape(JSON.stringify(d.inputSchema, null, 2))}</pre>
<h3>Output</h3><pre>${escape(JSON.stringify(d.outputSchema, null, 2))}</pre></section>`;
    })
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(source.name)} capabilities</title></head>
<body><h1>${escape(source.name)} (${escape(source.workerId)})</h1><p>JSON: <a href="/docs/json">/docs/json</a></p>${sections}</body></html>`;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
