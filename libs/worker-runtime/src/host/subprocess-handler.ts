import { randomUUID } from 'node:crypto';
import { CrankError, type Capability } from '@crank/capabilities';
import { backoffDelayMs, sleep } from '../backoff.js';
import type { HandlerContext } from '../handler.js';
import type { TaskRunner } from './task-runner.js';

/** A unary handler whose work runs in worker processes; `close()` ends them. */
export interface SubprocessHandler {
  (input: unknown, ctx: HandlerContext): Promise<unknown>;
  /** Ends the runner's processes (after the worker's drain); idempotent. */
  close(): Promise<void>;
}

/** Options of {@link subprocessHandler}. */
export interface SubprocessHandlerOptions {
  /** The configured worker's name, for messages. */
  readonly worker: string;
  /** Attempts after the first for a retriable failure (exit code 1, or `"retryable": true`). */
  readonly maxRetries: number;
}

/**
 * The handler of a capability served by `crank-host`: each call is a task
 * `{ id: requestId, type: capability id, params: input }` run by `runner`. A retriable failure is
 * tried again, up to `maxRetries` times with a short backoff, then answered UNAVAILABLE; any other
 * failure is answered at once with its code. An oversized answer is PAYLOAD_TOO_LARGE when the
 * capability declares it, else INTERNAL.
 */
export function subprocessHandler(
  capability: Capability,
  runner: TaskRunner,
  options: SubprocessHandlerOptions,
): SubprocessHandler {
  const { worker, maxRetries } = options;
  const handler = async (input: unknown, ctx: HandlerContext): Promise<unknown> => {
    const task = { id: ctx.requestId || randomUUID(), type: capability.id, params: input };
    for (let attempt = 0; ; attempt++) {
      const outcome = await runner.run(task, ctx.signal, ctx.logger);
      if (outcome.ok) return outcome.result;
      const error = declared(capability, outcome.error);
      if (!outcome.retryable || ctx.signal.aborted) throw error;
      if (attempt >= maxRetries) {
        throw new CrankError(
          'UNAVAILABLE',
          `worker "${worker}" failed ${attempt + 1} time(s) with a retriable failure: ${error.message}`,
          { details: { worker, attempts: attempt + 1, lastCode: error.code }, cause: error },
        );
      }
      ctx.logger.warn(
        { event: 'subprocess_retry', taskId: task.id, attempt: attempt + 1, reason: error.message },
        'retriable failure; trying the task again',
      );
      await sleep(backoffDelayMs(attempt, 100, 2_000), ctx.signal);
    }
  };
  return Object.assign(handler, { close: () => runner.close() });
}

/** A host error whose code the capability may not fail with becomes INTERNAL, keeping its message. */
function declared(capability: Capability, error: CrankError): CrankError {
  if (error.code !== 'PAYLOAD_TOO_LARGE' || capability.mayFailWith(error.code, 'handler')) return error;
  return new CrankError('INTERNAL', error.message, { details: error.details, cause: error });
}
