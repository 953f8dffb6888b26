// The HEALTHCHECK of every Crank image: GET /health on the app's own HTTP port; exit 0 on a 2xx
// answer within the timeout, 1 otherwise. A worker serves /health on CRANK_WORKER_HTTP_PORT; the
// controller on the port of CRANK_HTTP_ADDR, over HTTPS when CRANK_HTTP_AUTH=mtls. /health needs
// no API key and no client certificate, and 127.0.0.1 is a host name the controller always accepts.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pathToFileURL } from 'node:url';

/** Where this container's /health is, from its environment. */
export function healthUrl(env) {
  const workerPort = env.CRANK_WORKER_HTTP_PORT;
  if (workerPort && workerPort !== '0') return `http://127.0.0.1:${workerPort}/health`;
  const addr = env.CRANK_HTTP_ADDR ?? '127.0.0.1:8000';
  const port = addr.slice(addr.lastIndexOf(':') + 1);
  const scheme = env.CRANK_HTTP_AUTH === 'mtls' ? 'https' : 'http';
  return `${scheme}://127.0.0.1:${port}/health`;
}

/** Resolves true when `url` answers 2xx within `timeoutMs`, false on anything else. */
export function checkHealth(url, timeoutMs = 4000) {
  return new Promise((resolve) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    // The controller's certificate is issued by the Crank CA; the probe checks liveness, not trust.
    const req = request(url, { timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode >= 200 && res.statusCode < 300);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = (await checkHealth(healthUrl(process.env))) ? 0 : 1;
}
