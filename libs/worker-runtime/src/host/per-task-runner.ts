import { CrankError } from '@crank/capabilities';
import type { Logger } from 'pino';
import {
  EXIT_PERMANENT,
  EXIT_RETRIABLE,
  EXIT_SUCCESS,
  encodeTask,
  errorOfAnswer,
  parseTaskAnswer,
  quote,
  type TaskAnswer,
  type TaskOutcome,
  type TaskRequest,
} from './stdio-protocol.js';
import {
  abortedOutcome,
  describeExit,
  failure,
  overflowOutcome,
  timeoutOutcome,
  watchAttempt,
  type RunnerSettings,
  type TaskRunner,
} from './task-runner.js';
import { WorkerProcess, type ProcessExit, type ProcessSpec } from './worker-process.js';

/**
 * `per-task` mode: a fresh process for each task. The host writes the task line, closes stdin, and
 * reads one answer line and the exit code: 0 success, 1 a failure worth retrying, 2 a failure
 * that would happen again; anything else is a crash.
 */
export class PerTaskRunner implements TaskRunner {
  private running = 0;
  // Tasks waiting for one of the `concurrency` process slots, first come first served.
  private readonly waiting: (() => void)[] = [];
  private readonly live = new Set<WorkerProcess>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly spec: ProcessSpec,
    private readonly settings: RunnerSettings,
  ) {}

  start(): void {
    // Nothing runs between tasks.
  }

  async run(task: TaskRequest, signal: AbortSignal, logger: Logger): Promise<TaskOutcome> {
    const { worker, timeoutMs } = this.settings;
    if (signal.aborted) return abortedOutcome(signal);
    if (this.closing) return failure(closedError(worker));
    const startedAt = Date.now();
    const slot = await this.acquire(signal, timeoutMs);
    if (slot !== 'acquired') {
      if (slot === 'aborted') return signal.aborted ? abortedOutcome(signal) : failure(closedError(worker));
      return failure(
        new CrankError(
          'UNAVAILABLE',
          `worker "${worker}": no process slot was free within timeoutMs (${timeoutMs} ms)`,
        ),
      );
    }
    try {
      return await this.runProcess(task, signal, logger, timeoutMs - (Date.now() - startedAt));
    } finally {
      this.release();
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const wake of this.waiting.splice(0)) wake();
      for (const proc of this.live) proc.kill();
      await Promise.all([...this.live].map((proc) => proc.exited));
    })();
    return this.closing;
  }

  private runProcess(
    task: TaskRequest,
    signal: AbortSignal,
    logger: Logger,
    timeoutMs: number,
  ): Promise<TaskOutcome> {
    const { worker } = this.settings;
    const lines: string[] = [];
    let ended: 'timeout' | 'aborted' | 'overflow' | undefined;
    let lastStderr = '';
    const proc: WorkerProcess = WorkerProcess.start(this.spec, {
      onLine: (line) => lines.push(line),
      onOverflow: () => {
        ended ??= 'overflow';
        proc.kill();
      },
      onStderr: (line) => {
        lastStderr = line;
        logger.info({ event: 'subprocess_log', taskId: task.id, pid: proc.pid }, line);
      },
    });
    this.live.add(proc);
    proc.write(encodeTask(task));
    proc.endInput();
    const watch = watchAttempt(
      signal,
      Math.max(0, timeoutMs),
      () => {
        ended ??= 'aborted';
        proc.kill();
      },
      () => {
        ended ??= 'timeout';
        proc.kill();
      },
    );
    return proc.exited.then((exit) => {
      watch.cancel();
      this.live.delete(proc);
      // What the process left running (a child holding its pipes) ends with the task.
      proc.kill();
      if (ended === 'aborted') return abortedOutcome(signal);
      if (ended === 'timeout') return timeoutOutcome(worker, this.settings.timeoutMs);
      if (ended === 'overflow') return overflowOutcome(worker, this.spec.maxOutputBytes);
      const outcome = decide(worker, task.id, lines, exit, lastStderr);
      if (!outcome.ok && outcome.error.code === 'INTERNAL') {
        logger.warn(
          { event: 'subprocess_failed', taskId: task.id, reason: outcome.error.message },
          'worker process failed the task',
        );
      }
      return outcome;
    });
  }

  private acquire(signal: AbortSignal, timeoutMs: number): Promise<'acquired' | 'aborted' | 'timeout'> {
    if (this.running < this.settings.concurrency) {
      this.running += 1;
      return Promise.resolve('acquired');
    }
    return new Promise((resolve) => {
      const wake = (): void => {
        watch.cancel();
        if (this.closing) {
          resolve('aborted');
          return;
        }
        this.running += 1;
        resolve('acquired');
      };
      const leave = (why: 'aborted' | 'timeout'): void => {
        watch.cancel();
        const index = this.waiting.indexOf(wake);
        if (index !== -1) this.waiting.splice(index, 1);
        resolve(why);
      };
      const watch = watchAttempt(
        signal,
        timeoutMs,
        () => leave('aborted'),
        () => leave('timeout'),
      );
      this.waiting.push(wake);
    });
  }

  private release(): void {
    this.running -= 1;
    this.waiting.shift()?.();
  }
}

/** The outcome of a process that ran to its end: its one answer line and its exit code. */
function decide(
  worker: string,
  taskId: string,
  lines: readonly string[],
  exit: ProcessExit,
  lastStderr: string,
): TaskOutcome {
  const internal = (message: string): TaskOutcome =>
    failure(new CrankError('INTERNAL', `worker "${worker}" ${message}`, { details: { worker } }));
  if (exit.error) return internal(describeExit(exit, lastStderr));
  if (lines.length > 1) {
    return internal(
      `wrote ${lines.length} lines on stdout; a task is answered with exactly one JSON line ` +
        `(logs belong on stderr); the second: ${quote(lines[1] ?? '')}`,
    );
  }
  let answer: TaskAnswer | undefined;
  if (lines[0] !== undefined) {
    try {
      answer = parseTaskAnswer(lines[0], taskId);
    } catch (error) {
      return internal((error as Error).message);
    }
  }
  const failed = answer && !answer.success ? answer.error : undefined;
  switch (exit.code) {
    case EXIT_SUCCESS:
      if (!answer) return internal('exited with 0 without writing an answer on stdout');
      if (answer.success) return { ok: true, result: answer.result };
      return failure(errorOfAnswer(answer.error, worker), answer.error.retryable === true);
    case EXIT_RETRIABLE:
      return failure(
        failed
          ? errorOfAnswer(failed, worker)
          : new CrankError('UNAVAILABLE', `worker "${worker}" ${describeExit(exit, lastStderr)}`),
        true,
      );
    case EXIT_PERMANENT:
      if (failed) return failure(errorOfAnswer(failed, worker));
      return internal(`${describeExit(exit, lastStderr)} (a permanent failure) without an error answer`);
    default:
      return internal(`crashed: it ${describeExit(exit, lastStderr)}`);
  }
}

function closedError(worker: string): CrankError {
  return new CrankError('UNAVAILABLE', `worker "${worker}" is shutting down`);
}
