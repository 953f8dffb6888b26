import { spawn, type ChildProcess } from 'node:child_process';
import type { CrankClient } from '@crank/controller-client';
import { eventually } from './eventually.js';

/** A worker registered by a process the kit started: its id, and its HTTP URL when it logged one. */
export interface StartedWorkerInfo {
  readonly id: string;
  readonly httpUrl: string | undefined;
}

/** How a started process ended. */
export interface ProcessEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * A worker process the kit started itself: it reads the runtime's JSON log lines on stdout
 * (`worker_started` gives each worker's HTTP URL), and can be stopped with SIGTERM (the drain
 * case) or killed with its whole process group.
 */
export class StartedWorker {
  /** Resolves when the process has exited. */
  readonly exited: Promise<ProcessEnd>;
  private readonly child: ChildProcess;
  private readonly httpUrls = new Map<string, string>();
  // The last lines of output, for a message when it fails to start.
  private readonly tail: string[] = [];
  private ended: ProcessEnd | undefined;

  constructor(
    readonly command: readonly string[],
    env: Readonly<Record<string, string | undefined>>,
    cwd = process.cwd(),
  ) {
    const [program = '', ...args] = command;
    this.child = spawn(program, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let buffered = '';
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) this.onLine(line);
    });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim() !== '') this.remember(line);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        this.remember(`could not start: ${error.message}`);
        this.ended = { code: null, signal: null };
        resolve(this.ended);
      });
      this.child.once('exit', (code, signal) => {
        this.ended = { code, signal };
        resolve(this.ended);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** How it ended; undefined while it runs. */
  get end(): ProcessEnd | undefined {
    return this.ended;
  }

  /** Its last lines of output (stdout and stderr), joined, for a message. */
  get lastOutput(): string {
    return this.tail.slice(-8).join('\n');
  }

  /**
   * Waits until `count` workers that were not registered before (`known`) are registered, or the
   * process exits, or `timeoutMs` passes.
   * @throws Error saying which, with the process's last lines of output
   */
  async registered(
    client: CrankClient,
    known: ReadonlySet<string>,
    count: number,
    timeoutMs: number,
  ): Promise<StartedWorkerInfo[]> {
    let fresh: string[] = [];
    try {
      await eventually(
        async () => {
          if (this.ended) return true;
          fresh = (await client.workers())
            .filter((w) => !known.has(w.id) && w.state !== 'gone')
            .map((w) => w.id);
          return fresh.length >= count;
        },
        timeoutMs,
        'registered',
        100,
      );
    } catch {
      throw new Error(
        `${fresh.length} of ${count} worker(s) registered within ${timeoutMs} ms of the start; its last output:\n${this.lastOutput}`,
      );
    }
    if (this.ended) {
      throw new Error(
        `the process exited (${describeEnd(this.ended)}) before registering; its last output:\n${this.lastOutput}`,
      );
    }
    // The runtime logs `worker_started` (with the HTTP URL) just after its first registration.
    await eventually(
      () => this.ended !== undefined || fresh.every((id) => this.httpUrls.has(id)),
      5_000,
    ).catch(() => undefined);
    return fresh.map((id) => ({ id, httpUrl: this.httpUrls.get(id) }));
  }

  /** Sends a signal to the process itself (not its group): what a process manager does. */
  signal(signal: NodeJS.Signals): void {
    if (!this.ended) this.child.kill(signal);
  }

  /**
   * SIGKILLs the process's whole group, what it started included even after it exited itself
   * (`npx` dies on SIGTERM and leaves its child running), then waits for its exit; idempotent.
   */
  async kill(): Promise<void> {
    const pid = this.child.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // the whole group is gone already
      }
    }
    await this.exited;
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    this.remember(line);
    try {
      const record = JSON.parse(line) as { event?: unknown; workerId?: unknown; http?: unknown };
      if (
        record.event === 'worker_started' &&
        typeof record.workerId === 'string' &&
        typeof record.http === 'string'
      ) {
        this.httpUrls.set(record.workerId, record.http);
      }
    } catch {
      // not a log line of the runtime
    }
  }

  private remember(line: string): void {
    this.tail.push(line.length > 500 ? `${line.slice(0, 500)}...` : line);
    if (this.tail.length > 50) this.tail.shift();
  }
}

/** `exited with 1`, `killed by SIGTERM`. */
export function describeEnd(end: ProcessEnd): string {
  return end.signal ? `killed by ${end.signal}` : `exited with ${String(end.code)}`;
}
