import { CrankError } from '@crank/capabilities';
import type { Logger } from 'pino';
import type { TaskOutcome, TaskRequest } from './stdio-protocol.js';
import type { ProcessExit } from './worker-process.js';

/** Runs tasks in worker processes: one process per task, or a pool of long-lived ones. */
export interface TaskRunner {
  /** Starts what runs before the first task (the pool's processes); idempotent. */
  start(): void;
  /**
   * Runs one attempt of a task. Never rejects: every failure is a typed outcome. When `signal`
   * aborts, the task's process group is killed and the outcome carries the signal's reason.
   */
  run(task: TaskRequest, signal: AbortSignal, logger: Logger): Promise<TaskOutcome>;
  /** Ends every process: stdin closed, then SIGKILL after a grace period. Idempotent. */
  close(): Promise<void>;
}

/** What every runner needs to know besides how to start a process. */
export interface RunnerSettings {
  /** The configured worker's name, for messages and logs. */
  readonly worker: string;
  /** Longest a task may take, waiting for a free process included. */
  readonly timeoutMs: number;
  /** Processes at once: the pool's size, or the most per-task processes running together. */
  readonly concurrency: number;
  /** Logger for what happens outside any task (a pool process dying while idle). */
  readonly logger: Logger;
}

/** A failed outcome. */
export function failure(error: CrankError, retryable = false): TaskOutcome {
  return { ok: false, error, retryable };
}

/** The outcome of a task whose call was cancelled, ran out of time or was aborted by the drain. */
export function abortedOutcome(signal: AbortSignal): TaskOutcome {
  const reason: unknown = signal.reason;
  return failure(
    reason instanceof CrankError
      ? reason
      : new CrankError('CANCELLED', 'the call was aborted', { cause: reason }),
  );
}

export function timeoutOutcome(worker: string, timeoutMs: number): TaskOutcome {
  return failure(
    new CrankError(
      'DEADLINE_EXCEEDED',
      `worker "${worker}" did not answer within timeoutMs (${timeoutMs} ms); its process group was killed`,
      { details: { worker, timeoutMs } },
    ),
  );
}

export function overflowOutcome(worker: string, maxOutputBytes: number): TaskOutcome {
  return failure(
    new CrankError(
      'PAYLOAD_TOO_LARGE',
      `worker "${worker}" wrote an answer larger than maxOutputBytes (${maxOutputBytes} bytes); its process group was killed`,
      { details: { worker, maxOutputBytes } },
    ),
  );
}

/** How a process that ended unasked is described: its exit, and its last stderr line. */
export function describeExit(exit: ProcessExit, lastStderr: string): string {
  const how = exit.error
    ? `could not be started (${exit.error.message})`
    : exit.signal
      ? `was killed by ${exit.signal}`
      : `exited with code ${String(exit.code)}`;
  return lastStderr ? `${how}; its last stderr line: ${JSON.stringify(lastStderr.slice(0, 200))}` : how;
}

/**
 * Runs `body` once `signal` aborts or `ms` passes, whichever is first; `cancel()` stops both.
 * The timer is unref'd: it never keeps the process alive.
 */
export function watchAttempt(
  signal: AbortSignal,
  ms: number,
  onAbort: () => void,
  onTimeout: () => void,
): { cancel(): void } {
  const timer = setTimeout(onTimeout, ms);
  timer.unref();
  signal.addEventListener('abort', onAbort, { once: true });
  return {
    cancel(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    },
  };
}
