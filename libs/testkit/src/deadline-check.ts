import { randomUUID } from 'node:crypto';
import { callOnce, type Run } from './case-runner.js';
import { codeOf, failed, messageOf, passed, skipped, type ConformanceResult } from './conformance-result.js';
import { eventually } from './eventually.js';
import { inFlight, leftovers, type InFlightTarget } from './in-flight.js';

/** Name of the built-in case that lets a call run past its deadline. */
export const DEADLINE_CASE = 'a call past its deadline ends with DEADLINE_EXCEEDED and frees its slot';

/** The deadline the case gives its call: far below the second or more `slowInput` takes. */
export const DEADLINE_CASE_MS = 300;

/**
 * Sends `slowInput` with a deadline of {@link DEADLINE_CASE_MS}: the caller must get
 * DEADLINE_EXCEEDED, and within `settleTimeoutMs` neither the controller nor the worker may still
 * count the call in flight (nor, for a worker the testkit started, may its handler still run).
 */
export async function checkDeadline(
  run: Run,
  target: InFlightTarget,
  slowInput: unknown,
  settleTimeoutMs = 3_000,
): Promise<ConformanceResult> {
  if (slowInput === undefined) {
    return skipped(
      DEADLINE_CASE,
      'no `slowInput` given (an input the handler works on for a second or more)',
    );
  }
  const requestId = `conformance-deadline-${randomUUID()}`;
  const before = await inFlight(target);
  try {
    const answer = await callOnce(run, slowInput, { timeoutMs: DEADLINE_CASE_MS, requestId });
    return failed(
      DEADLINE_CASE,
      `the call succeeded within its ${DEADLINE_CASE_MS} ms deadline; give a slowInput the handler works on for a second or more`,
      answer.workerId,
    );
  } catch (error) {
    if (codeOf(error) !== 'DEADLINE_EXCEEDED') {
      return failed(DEADLINE_CASE, `expected DEADLINE_EXCEEDED, got ${codeOf(error)}: ${messageOf(error)}`);
    }
  }
  let left: string[] = [];
  try {
    await eventually(
      async () => {
        left = await leftovers(target, before, requestId);
        return left.length === 0;
      },
      settleTimeoutMs,
      'deadline',
      50,
    );
  } catch {
    return failed(DEADLINE_CASE, `${settleTimeoutMs} ms after the deadline, ${left.join('; ')}`);
  }
  return passed(DEADLINE_CASE, run.workerId);
}
