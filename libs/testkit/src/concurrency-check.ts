import { answerProblem, callOnce, type Answer, type Run } from './case-runner.js';
import { codeOf, failed, messageOf, passed, skipped, type ConformanceResult } from './conformance-result.js';

/** Name of the built-in case that sends as many calls at once as the capability has slots. */
export const CONCURRENCY_CASE = 'as many calls at once as maxConcurrency are all answered';

/** Most calls the case sends at once, whatever `maxConcurrency` says. */
export const CONCURRENCY_CASE_MAX = 128;

/**
 * Sends `count` calls of `input` at once (the capability's `maxConcurrency`, up to
 * {@link CONCURRENCY_CASE_MAX}): every one must be answered by the worker under test with a valid
 * output. With a slow input the calls really overlap on the worker, so a worker that cannot run
 * them together (shared state, too few processes) fails here.
 */
export async function checkConcurrency(run: Run, input: unknown, count: number): Promise<ConformanceResult> {
  if (count <= 0) return skipped(CONCURRENCY_CASE, 'no calls to send (concurrency 0)');
  if (input === undefined) {
    return skipped(CONCURRENCY_CASE, 'no valid input to send: give a case that succeeds, or a slowInput');
  }
  const calls = Math.min(count, CONCURRENCY_CASE_MAX);
  const settled = await Promise.allSettled(Array.from({ length: calls }, () => callOnce(run, input)));
  const errors = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (errors.length > 0) {
    const byCode = new Map<string, { count: number; message: string }>();
    for (const error of errors) {
      const entry = byCode.get(codeOf(error)) ?? { count: 0, message: messageOf(error) };
      entry.count += 1;
      byCode.set(codeOf(error), entry);
    }
    const listed = [...byCode]
      .map(([code, { count: n, message }]) => `${n} x ${code} (${message})`)
      .join(', ');
    return failed(CONCURRENCY_CASE, `${errors.length} of ${calls} calls sent at once failed: ${listed}`);
  }
  const answers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])) as Answer[];
  for (const answer of answers) {
    const problem = answerProblem(run, answer);
    if (problem)
      return failed(CONCURRENCY_CASE, `one of ${calls} calls sent at once: ${problem}`, answer.workerId);
  }
  return passed(CONCURRENCY_CASE, answers[0]?.workerId, `${calls} calls at once`);
}
