import { randomUUID } from 'node:crypto';
import type { Capability } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import { callOnce } from './case-runner.js';
import { codeOf, failed, messageOf, passed, type ConformanceResult } from './conformance-result.js';
import { eventually } from './eventually.js';
import { describeEnd, type StartedWorker } from './started-worker.js';

/** Name of the drain case, run on a worker process the kit started itself. */
export const DRAIN_CASE = 'on SIGTERM the worker finishes its calls, deregisters and exits 0';

/** What the drain case needs. */
export interface DrainTarget {
  client: CrankClient;
  process: StartedWorker;
  /** The workers the process registered. */
  workerIds: readonly string[];
  /** A capability and a slow input of it, to have a call in flight at the SIGTERM. */
  slow?: { capability: Capability; workerId: string; input: unknown };
  /** Longest wait for the exit after SIGTERM. */
  drainTimeoutMs: number;
}

/**
 * Sends SIGTERM to the process, with a slow call in flight when a slow input is known, then
 * checks that: the call in flight is answered (the drain lets it finish); the process exits by
 * itself with code 0 within `drainTimeoutMs`; and the controller lists none of its workers as
 * routable any more (they deregistered rather than vanished).
 */
export async function checkDrain(target: DrainTarget): Promise<ConformanceResult> {
  const { client, process: proc } = target;
  let call: Promise<{ ok: true } | { ok: false; error: unknown }> | undefined;
  if (target.slow) {
    const { capability, workerId, input } = target.slow;
    const run = { client, capability, workerId, timeoutMs: target.drainTimeoutMs };
    call = callOnce(run, input, { requestId: `conformance-drain-${randomUUID()}` }).then(
      () => ({ ok: true as const }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const seen = await eventually(
      async () => (await client.workers()).some((w) => w.id === workerId && w.inFlight > 0),
      5_000,
      'in flight',
      20,
    ).then(
      () => true,
      () => false,
    );
    if (!seen)
      return failed(
        DRAIN_CASE,
        'the slow call was not seen in flight within 5000 ms, so SIGTERM was not sent',
      );
  }
  const sentAt = Date.now();
  proc.signal('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const end = await Promise.race([
    proc.exited,
    new Promise<undefined>(
      (resolve) => (timer = setTimeout(() => resolve(undefined), target.drainTimeoutMs)),
    ),
  ]);
  clearTimeout(timer);
  if (!end) {
    await proc.kill();
    return failed(
      DRAIN_CASE,
      `still running ${target.drainTimeoutMs} ms after SIGTERM (killed): it does not stop on SIGTERM`,
    );
  }
  const tookMs = Date.now() - sentAt;
  if (end.signal === 'SIGTERM') {
    const wrapper = /(^|\/)(npx|npm|yarn|pnpm)$/.test(proc.command[0] ?? '')
      ? ` (${proc.command[0]} does not pass SIGTERM on: give the worker's own command, e.g. node <its bin>)`
      : ' (call worker.stop() on SIGTERM)';
    return failed(
      DRAIN_CASE,
      `was ended by the SIGTERM itself: it has no handler, so calls in flight are cut and it never deregisters${wrapper}`,
    );
  }
  if (end.code !== 0)
    return failed(
      DRAIN_CASE,
      `${describeEnd(end)} after SIGTERM (expected 0); its last output:\n${proc.lastOutput}`,
    );
  const outcome = await call;
  if (outcome && !outcome.ok) {
    return failed(
      DRAIN_CASE,
      `the call in flight at SIGTERM failed with ${codeOf(outcome.error)}: ${messageOf(outcome.error)}`,
    );
  }
  const listed = (await client.workers()).filter(
    (w) => target.workerIds.includes(w.id) && w.state !== 'gone',
  );
  if (listed.length > 0) {
    return failed(
      DRAIN_CASE,
      `exited, but the controller still lists ${listed.map((w) => `"${w.id}" as ${w.state}`).join(', ')}: it did not deregister`,
    );
  }
  return passed(
    DRAIN_CASE,
    undefined,
    `exited 0 ${tookMs} ms after SIGTERM${call ? ', the call in flight answered' : ''}`,
  );
}
