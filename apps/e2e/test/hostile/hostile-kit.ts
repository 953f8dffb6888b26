// Small tools the hostile suites share: raw HTTP on a socket (for what fetch refuses to send),
// reading /metrics, and settling many calls without failing on the first refusal.
import { connect } from 'node:net';
import type { Cluster } from '../harness.js';

/** An HTTP answer as read off the wire. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON when the body is JSON, else the text. */
  body: unknown;
}

/**
 * Writes `request` (the whole HTTP/1.1 text, bytes as given) to 127.0.0.1:`port` and reads the
 * answer until the server closes the connection. Send `connection: close` in well-formed requests.
 */
export function rawHttp(port: number, request: string, timeoutMs = 10_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer from port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server may answer and close before it has read everything we wrote.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') {
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      const rawBody = split < 0 ? '' : text.slice(split + 4);
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
      if (!match) {
        reject(new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body: unknown = rawBody;
      try {
        body = JSON.parse(rawBody) as unknown;
      } catch {
        // not JSON
      }
      resolve({ status: Number(match[1]), headers, body });
    });
    socket.write(request);
  });
}

/** POSTs `body` to `/v1/invoke/<capability>` with JSON content type unless `headers` say otherwise. */
export function invokeHttp(
  cluster: Cluster,
  capability: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: unknown }> {
  return cluster.http(`/v1/invoke/${capability}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
}

/** The controller's /metrics text. */
export async function metricsText(cluster: Cluster): Promise<string> {
  const res = await fetch(`${cluster.httpUrl}/metrics`);
  return res.text();
}

/** Every distinct value of `label` in a Prometheus text exposition. */
export function labelValues(metrics: string, label: string): Set<string> {
  const values = new Set<string>();
  for (const match of metrics.matchAll(new RegExp(`[{,]${label}="((?:[^"\\\\]|\\\\.)*)"`, 'g'))) {
    values.add(match[1] as string);
  }
  return values;
}

/**
 * Sum of the samples of `name` in a Prometheus text exposition: every label set of a metric name,
 * or one series when `name` includes its labels (`crank_requests_total{capability="x",outcome="ok"}`).
 */
export function metricSum(metrics: string, name: string): number {
  let sum = 0;
  for (const line of metrics.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** How a call ended, without throwing. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: { code?: string; message?: string } };

export function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error: error as { code?: string; message?: string } }),
  );
}

/** Runs `count` tasks, at most `parallel` at a time, and returns their results in order. */
export async function runPool<T>(
  count: number,
  parallel: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let i = next++; i < count; i = next++) results[i] = await task(i);
    }),
  );
  return results;
}

/** Whether the process is still running (no exit code, no signal). */
export function alive(proc: {
  child: { exitCode: number | null; signalCode: NodeJS.Signals | null };
}): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}
