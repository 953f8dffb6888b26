import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';

/** The dashboard's files: `ui/` next to `src/` and `dist/`, shipped in the package as they are. */
export const UI_ROOT = fileURLToPath(new URL('../../ui/', import.meta.url));

/** Preact and htm in one ES module for browsers, served from the installed `htm` package. */
const VENDOR_FILE = 'standalone.module.js';

/**
 * The pages load only their own files, and talk only to this origin: a script injected into
 * a job's output (the pages render text, never HTML, but in depth) could not load or send
 * anything elsewhere.
 */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; " +
  "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

function setHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', CSP);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('cache-control', 'no-cache');
}

/**
 * Serves the operator dashboard at `/ui/`: static files that use only the public HTTP API. The
 * files themselves hold no data, so they are served without credentials (a browser cannot attach
 * a bearer key to a page load); every API call the pages make needs the same auth as any other.
 */
export async function installDashboard(http: NestFastifyApplication): Promise<void> {
  // Loaded here, not at the top: jest's loader on Node 20 cannot load its ESM-only dependencies,
  // and embedded controllers in tests run without the static pages.
  const { default: fastifyStatic } = await import('@fastify/static');
  // The package's `import` entry sits next to its browser build (its `require` entry is missing).
  const vendorRoot = dirname(fileURLToPath(import.meta.resolve('htm/preact/standalone')));
  // Swagger UI registered @fastify/static first and decorated the reply; these must not again.
  await http.register(fastifyStatic, {
    root: UI_ROOT,
    prefix: '/ui/',
    decorateReply: false,
    index: 'index.html',
    setHeaders,
  });
  await http.register(fastifyStatic, {
    root: vendorRoot,
    prefix: '/ui/vendor/',
    decorateReply: false,
    allowedPath: (path) => path === `/${VENDOR_FILE}`,
    setHeaders,
  });
  http
    .getHttpAdapter()
    .getInstance()
    .get('/ui', (_request, reply) => reply.redirect('/ui/'));
}
