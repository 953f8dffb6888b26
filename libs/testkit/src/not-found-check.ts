import { randomBytes } from 'node:crypto';
import type { Run } from './case-runner.js';
import { codeOf, failed, messageOf, passed, type ConformanceResult } from './conformance-result.js';

/** Name of the built-in case that calls what nobody offers. */
export const NOT_FOUND_CASE = 'an unknown capability, and a version nobody offers, are NOT_FOUND';

/**
 * Calls a capability id nobody offers, then this capability at a major version nobody offers;
 * each must fail with NOT_FOUND (and nothing else: not UNAVAILABLE, not a hang).
 */
export async function checkNotFound(run: Run, sample: unknown): Promise<ConformanceResult> {
  const { capability, client } = run;
  const unknownId = `${capability.id}-unknown-${randomBytes(3).toString('hex')}`;
  const major = Number(capability.version.split('.')[0]) + 1_000;
  const attempts: { what: string; call: () => Promise<unknown> }[] = [
    {
      what: `capability "${unknownId}"`,
      call: () => client.invoke(unknownId, {}, { timeoutMs: run.timeoutMs }),
    },
    {
      what: `${capability.id} version ^${major}.0.0`,
      call: async () => {
        const options = { timeoutMs: run.timeoutMs, version: `^${major}.0.0` };
        if (capability.streaming === 'none') return client.invoke(capability.id, sample ?? {}, options);
        const stream = client.invokeStream(capability.id, [sample ?? {}], options);
        for await (const _record of stream) {
          // read to the end
        }
        return undefined;
      },
    },
  ];
  for (const { what, call } of attempts) {
    try {
      await call();
      return failed(NOT_FOUND_CASE, `a call of ${what} succeeded`);
    } catch (error) {
      if (codeOf(error) !== 'NOT_FOUND') {
        return failed(
          NOT_FOUND_CASE,
          `a call of ${what}: expected NOT_FOUND, got ${codeOf(error)}: ${messageOf(error)}`,
        );
      }
    }
  }
  return passed(NOT_FOUND_CASE);
}
