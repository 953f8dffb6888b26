import { CrankError } from '@crank/capabilities';
import type { Logger } from 'pino';
import { backoffDelayMs } from '../backoff.js';
import {
  encodeTask,
  errorOfAnswer,
  parseTaskAnswer,
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

/** A process that lived this long before it died is replaced at once; sooner, after a backoff. */
const HEALTHY_LIFETIME_MS = 5_000;
/** How long a process may take to exit after its stdin closes, on close(). */
const EXIT_GRACE_MS = 2_000;

/** The task a pool process works on, and how to end it. */
interface Current {
  readonly task: TaskRequest;
  readonly logger: Logger;
  settle(outcome: TaskOutcome): void;
}

/**
 * `pool` mode: `concurrency` long-lived processes, each reading one task line at a time from its
 * stdin and writing one answer line. A process that dies, breaks the protocol, or is killed for a
 * timeout or a cancel is replaced: at once when it had lived a while, else after a backoff, so
 * that a process that cannot start does not spin.
 */
export class ProcessPool implements TaskRunner {
  private readonly slots: PoolSlot[] = [];
  private readonly idle: PoolSlot[] = [];
  // Tasks waiting for an idle process, first come first served.
  private readonly waiting: ((slot: PoolSlot | undefined) => void)[] = [];
  private started = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly spec: ProcessSpec,
    private readonly settings: RunnerSettings,
  ) {}

  start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    for (let i = 0; i < this.settings.concurrency; i++) {
      const slot = new PoolSlot(i, this.spec, this.settings, {
        ready: (ready) => this.onReady(ready),
        gone: (gone) => {
          const index = this.idle.indexOf(gone);
          if (index !== -1) this.idle.splice(index, 1);
        },
      });
      this.slots.push(slot);
      slot.spawn();
    }
  }

  async run(task: TaskRequest, signal: AbortSignal, logger: Logger): Promise<TaskOutcome> {
    const { worker, timeoutMs } = this.settings;
    if (signal.aborted) return abortedOutcome(signal);
    if (this.closing) return failure(closedError(worker));
    this.start();
    const startedAt = Date.now();
    const slot = await this.acquire(signal, timeoutMs);
    if (slot === 'aborted') return abortedOutcome(signal);
    if (slot === 'timeout') {
      return failure(
        new CrankError(
          'UNAVAILABLE',
          `worker "${worker}": no pool process was free within timeoutMs (${timeoutMs} ms)${this.lastDeath()}`,
        ),
      );
    }
    if (slot === undefined) return failure(closedError(worker));
    return slot.run(task, signal, logger, Math.max(0, timeoutMs - (Date.now() - startedAt)));
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const wake of this.waiting.splice(0)) wake(undefined);
      this.idle.length = 0;
      await Promise.all(this.slots.map((slot) => slot.close()));
    })();
    return this.closing;
  }

  private acquire(
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<PoolSlot | undefined | 'aborted' | 'timeout'> {
    const ready = this.idle.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => {
      const wake = (slot: PoolSlot | undefined): void => {
        watch.cancel();
        resolve(slot);
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

  /** A process is ready for a task: the longest-waiting task gets it, else it waits idle. */
  private onReady(slot: PoolSlot): void {
    if (this.closing) return;
    const wake = this.waiting.shift();
    if (wake) wake(slot);
    else this.idle.push(slot);
  }

  /** How the last pool process that ended did, for a message; '' when none has. */
  private lastDeath(): string {
    const last = this.slots.map((slot) => slot.lastExit).find((text) => text !== '');
    return last ? `; the last process that ended ${last}` : '';
  }
}

/** One place in the pool: a process, replaced whenever it ends. */
class PoolSlot {
  /** How the last process of this slot ended, in words; '' while none has. */
  lastExit = '';
  private proc: WorkerProcess | undefined;
  private current: Current | undefined;
  private startedAt = 0;
  private quickDeaths = 0;
  private respawnTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly index: number,
    private readonly spec: ProcessSpec,
    private readonly settings: RunnerSettings,
    private readonly pool: { ready(slot: PoolSlot): void; gone(slot: PoolSlot): void },
  ) {}

  spawn(): void {
    if (this.closed) return;
    const { worker, logger } = this.settings;
    let lastStderr = '';
    const proc: WorkerProcess = WorkerProcess.start(this.spec, {
      onLine: (line) => this.onLine(proc, line),
      onOverflow: () => this.end(proc, overflowOutcome(worker, this.spec.maxOutputBytes)),
      onStderr: (line) => {
        lastStderr = line;
        const current = this.current;
        (current?.logger ?? logger).info(
          { event: 'subprocess_log', taskId: current?.task.id, pid: proc.pid },
          line,
        );
      },
    });
    this.proc = proc;
    this.startedAt = Date.now();
    void proc.exited.then((exit) => this.onExit(proc, exit, lastStderr));
    this.pool.ready(this);
  }

  run(task: TaskRequest, signal: AbortSignal, logger: Logger, timeoutMs: number): Promise<TaskOutcome> {
    const proc = this.proc;
    if (!proc?.running)
      return Promise.resolve(failure(new CrankError('UNAVAILABLE', 'pool process is gone')));
    return new Promise<TaskOutcome>((resolve) => {
      const watch = watchAttempt(
        signal,
        timeoutMs,
        () => this.end(proc, abortedOutcome(signal)),
        () => this.end(proc, timeoutOutcome(this.settings.worker, this.settings.timeoutMs)),
      );
      this.current = {
        task,
        logger,
        settle: (outcome) => {
          watch.cancel();
          this.current = undefined;
          resolve(outcome);
        },
      };
      proc.write(encodeTask(task));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.respawnTimer);
    const proc = this.proc;
    if (!proc?.running) return;
    proc.endInput();
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([
      proc.exited.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), EXIT_GRACE_MS))),
    ]);
    clearTimeout(timer);
    if (!exited) {
      proc.kill();
      await proc.exited;
    }
  }

  private onLine(proc: WorkerProcess, line: string): void {
    const current = this.current;
    if (proc !== this.proc) return;
    if (!current) {
      this.settings.logger.warn(
        { event: 'subprocess_protocol_error', pid: proc.pid },
        'a pool process wrote on stdout while no task was running (logs belong on stderr); replacing it',
      );
      proc.kill();
      return;
    }
    let outcome: TaskOutcome;
    try {
      const answer = parseTaskAnswer(line, current.task.id);
      outcome = answer.success
        ? { ok: true, result: answer.result }
        : failure(errorOfAnswer(answer.error, this.settings.worker), answer.error.retryable === true);
    } catch (error) {
      // The stream is out of step with the tasks: the process cannot be trusted with another.
      this.end(
        proc,
        failure(
          new CrankError('INTERNAL', `worker "${this.settings.worker}" ${(error as Error).message}`, {
            details: { worker: this.settings.worker },
          }),
        ),
      );
      return;
    }
    current.settle(outcome);
    this.pool.ready(this);
  }

  /** Ends the current task with `outcome` and kills the process (replaced once it has exited). */
  private end(proc: WorkerProcess, outcome: TaskOutcome): void {
    if (proc !== this.proc) return;
    this.current?.settle(outcome);
    proc.kill();
  }

  private onExit(proc: WorkerProcess, exit: ProcessExit, lastStderr: string): void {
    if (proc !== this.proc) return;
    this.proc = undefined;
    this.pool.gone(this);
    this.lastExit = describeExit(exit, lastStderr);
    const { worker, logger } = this.settings;
    if (this.current) {
      this.current.settle(
        failure(
          new CrankError(
            'INTERNAL',
            `worker "${worker}" crashed while running the task: it ${this.lastExit}`,
            {
              details: { worker },
            },
          ),
        ),
      );
    }
    if (this.closed) return;
    const lived = Date.now() - this.startedAt;
    this.quickDeaths = lived >= HEALTHY_LIFETIME_MS || exit.signal === 'SIGKILL' ? 0 : this.quickDeaths + 1;
    const delayMs = this.quickDeaths === 0 ? 0 : backoffDelayMs(this.quickDeaths - 1, 100, 10_000);
    logger[exit.signal === 'SIGKILL' ? 'info' : 'warn'](
      { event: 'subprocess_replaced', slot: this.index, pid: proc.pid, livedMs: lived, restartInMs: delayMs },
      `pool process ${this.lastExit}; replacing it`,
    );
    this.respawnTimer = setTimeout(() => this.spawn(), delayMs);
    this.respawnTimer.unref();
  }
}

function closedError(worker: string): CrankError {
  return new CrankError('UNAVAILABLE', `worker "${worker}" is shutting down`);
}
