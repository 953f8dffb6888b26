import { request } from 'node:http';
import type { Capability } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import { messageOf } from './conformance-result.js';
import type { HandlerRunLog } from './handler-runs.js';

/** Where a call of the capability under test may still be held. */
export interface InFlightTarget {
  client: CrankClient;
  capability: Capability;
  /** The worker under test; else every worker offering the capability is looked at. */
  workerId: string | undefined;
  /** Its HTTP base URL, for its own `/health` count of calls in flight. */
  workerHttpUrl: string | undefined;
  /** Handler runs of a worker started by the testkit: shows a handler that ignores the signal. */
  runs: HandlerRunLog | undefined;
}

/** Calls of the capability under test in flight, as the controller and the worker count them. */
/** What still holds on to the call (cancelled, or out of time), each in words; empty when nothing does. */
export async function leftovers(
  target: InFlightTarget,
  before: InFlight,
  requestId: string,
): Promise<string[]> {
  const left: string[] = [];
  const now = await inFlight(target);
  const who = target.workerId ? `worker "${target.workerId}"` : 'the workers';
  if (now.controller > before.controller) {
    left.push(`the controller still counts ${now.controller} call(s) in flight on ${who} (/v1/workers)`);
  }
  if (now.worker > before.worker) {
    left.push(`${who} still reports ${now.worker} call(s) in flight on its /health: it kept the slot`);
  }
  const run = target.runs?.find(requestId);
  if (run && run.settledAt === undefined) {
    left.push(
      run.abortedAt === undefined
        ? 'the handler still runs and its ctx.signal has not aborted'
        : `the handler ignored ctx.signal: still running ${Date.now() - run.abortedAt} ms after the call was cancelled`,
    );
  }
  return left;
}

export interface InFlight {
  /** Calls of the capability the controller counts in flight on the worker(s). */
  controller: number;
  /** Calls of the capability the worker counts in flight on its /health (0 when not known). */
  worker: number;
}

export async function inFlight(target: InFlightTarget): Promise<InFlight> {
  const { capability } = target;
  const matches = (c: { id: string; version: string }): boolean =>
    c.id === capability.id && c.version === capability.version;
  let controller = 0;
  for (const worker of await target.client.workers()) {
    if (target.workerId && worker.id !== target.workerId) continue;
    for (const c of worker.capabilities) if (matches(c)) controller += c.inFlight;
  }
  let worker = 0;
  if (target.workerHttpUrl) {
    const health = (await getJson(`${target.workerHttpUrl}/health`)) as {
      capabilities?: { id: string; version: string; inFlight: number }[];
    };
    for (const c of health.capabilities ?? []) if (matches(c)) worker += c.inFlight;
  }
  return { controller, worker };
}

/** GETs a JSON document on a connection of its own, closed after the answer (no pooled socket). */
export function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as unknown);
        } catch (error) {
          reject(new Error(`${url}: not JSON (${messageOf(error)})`));
        }
      });
      res.on('error', reject);
    });
    req.setTimeout(5_000, () => req.destroy(new Error(`${url}: no answer within 5000 ms`)));
    req.on('error', reject);
    req.end();
  });
}
