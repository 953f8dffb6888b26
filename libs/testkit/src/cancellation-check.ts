import { randomUUID } from 'node:crypto';
import { codeOf, failed, messageOf, passed, type ConformanceResult } from './conformance-result.js';
import { eventually } from './eventually.js';
import { inFlight, leftovers, type InFlightTarget } from './in-flight.js';

/** The cancellation case of a conformance run: a call that is cancelled while it runs. */
export interface ConformanceCancellation {
  /** @default 'a cancelled call frees its slot and stops its handler' */
  name?: string;
  /**
   * An input the handler works on long enough (a second or more) to be cancelled mid-call. For a
   * capability that streams its input (`input`, `bidi`): the records, an array or (async)
   * iterable, which may also stay open until the call is cancelled.
   */
  input: unknown;
  /** Longest wait for the call to be seen running before it is cancelled. @default 5000 */
  startTimeoutMs?: number;
  /** Longest wait, after the cancel, for the slot to be free and the handler to stop. @default 3000 */
  settleTimeoutMs?: number;
}

/** What the check looks at. */
export interface CancellationTarget extends InFlightTarget {
  timeoutMs: number;
}

export const CANCELLATION_CASE = 'a cancelled call frees its slot and stops its handler';

type Settled = { ok: true; workerId: string } | { ok: false; error: unknown };

/**
 * Starts a call, waits until it runs (the handler started, else the worker or the controller
 * counts it in flight), cancels it, and then checks within `settleTimeoutMs` that: the caller got
 * CANCELLED; the controller no longer counts it in flight (`/v1/workers`); the worker's own
 * `/health` does not either (its slot is free); and, when the testkit started the worker, that
 * the handler itself stopped, i.e. honoured `ctx.signal`.
 */
export async function checkCancellation(
  target: CancellationTarget,
  cancellation: ConformanceCancellation,
): Promise<ConformanceResult> {
  const { client, capability } = target;
  const name = cancellation.name ?? CANCELLATION_CASE;
  const requestId = `conformance-cancel-${randomUUID()}`;
  const abort = new AbortController();
  const before = await inFlight(target);
  const callOptions = {
    version: capability.version,
    requestId,
    signal: abort.signal,
    timeoutMs: target.timeoutMs,
  };
  let settled: Settled | undefined;
  const call =
    capability.streaming === 'none'
      ? client.invoke(capability.id, cancellation.input, callOptions).then(
          (result) => (settled = { ok: true, workerId: result.workerId }),
          (error: unknown) => (settled = { ok: false, error }),
        )
      : (async () => {
          const streamsIn = capability.streaming === 'input' || capability.streaming === 'bidi';
          const records = streamsIn ? (cancellation.input as Iterable<unknown>) : [cancellation.input];
          const stream = client.invokeStream(capability.id, records, callOptions);
          const { workerId } = await stream.accepted;
          for await (const _record of stream) {
            // read to the end
          }
          return workerId;
        })().then(
          (workerId) => (settled = { ok: true, workerId }),
          (error: unknown) => (settled = { ok: false, error }),
        );

  const startTimeoutMs = cancellation.startTimeoutMs ?? 5_000;
  const running = async (): Promise<boolean> => {
    if (target.runs) return target.runs.find(requestId) !== undefined;
    const now = await inFlight(target);
    return now.controller > before.controller || now.worker > before.worker;
  };
  try {
    await eventually(async () => settled !== undefined || (await running()), startTimeoutMs, 'running', 20);
  } catch {
    abort.abort();
    await call;
    return failed(name, `the call was not seen running within ${startTimeoutMs} ms, so it was not cancelled`);
  }
  const tooShort =
    'give `cancellation.input` an input the handler works on for a second or more, so it can be cancelled while it runs';
  if (settled) return beforeCancel(name, settled, tooShort);

  abort.abort();
  await call;
  const outcome = settled as Settled | undefined;
  if (outcome?.ok) return failed(name, `the call completed before it could be cancelled; ${tooShort}`);
  const code = codeOf(outcome?.error);
  if (code !== 'CANCELLED') {
    return failed(
      name,
      `the cancelled call failed with ${code} instead of CANCELLED: ${messageOf(outcome?.error)}`,
    );
  }

  const settleTimeoutMs = cancellation.settleTimeoutMs ?? 3_000;
  let left: string[] = [];
  try {
    await eventually(
      async () => {
        left = await leftovers(target, before, requestId);
        return left.length === 0;
      },
      settleTimeoutMs,
      'cancelled',
      50,
    );
  } catch {
    return failed(name, `${settleTimeoutMs} ms after the cancel, ${left.join('; ')}`);
  }
  const run = target.runs?.find(requestId);
  if (run && run.abortedAt === undefined) {
    return failed(name, `the handler finished before the cancel reached it; ${tooShort}`);
  }
  return passed(name, run ? target.workerId : undefined);
}

function beforeCancel(name: string, settled: Settled, tooShort: string): ConformanceResult {
  if (settled.ok) return failed(name, `the call completed before it could be cancelled; ${tooShort}`);
  return failed(
    name,
    `the call failed before it could be cancelled: ${codeOf(settled.error)}: ${messageOf(settled.error)}`,
  );
}
