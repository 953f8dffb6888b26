import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/** What to run: the compiled command of one configured worker. */
export interface ProcessSpec {
  /** The program (an absolute path, or a name looked up on PATH). */
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The whole environment of the process. */
  readonly env: Readonly<Record<string, string>>;
  /** Longest stdout line (an answer) in bytes; a longer one is an overflow. */
  readonly maxOutputBytes: number;
}

/** What a {@link WorkerProcess} reports while it runs. */
export interface ProcessListener {
  /** A complete stdout line (without its newline); empty lines are skipped. */
  onLine(line: string): void;
  /** Stdout passed `maxOutputBytes` within one line; nothing more is read after it. */
  onOverflow(): void;
  /** A stderr line, cut to {@link STDERR_LINE_MAX} characters. */
  onStderr(line: string): void;
}

/** How the process ended. `error` is set when it could not be started (ENOENT, EACCES). */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

/** Longest stderr line forwarded as a log line; the rest of a longer one is dropped. */
export const STDERR_LINE_MAX = 8_192;

/**
 * One worker process: started in a process group of its own (`detached`), so that
 * {@link WorkerProcess.kill} ends it together with every process it started. Stdout is split into
 * lines under a size limit, stderr into log lines.
 */
export class WorkerProcess {
  /** Resolves once the process has exited and its stdout is read to the end. */
  readonly exited: Promise<ProcessExit>;
  private readonly child: ChildProcessWithoutNullStreams;
  private alive = true;

  private constructor(spec: ProcessSpec, listener: ProcessListener) {
    this.child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    // Writes to a process that has exited fail with EPIPE; its exit says what happened.
    this.child.stdin.on('error', () => undefined);
    const stdoutDone = splitLines(this.child.stdout, spec.maxOutputBytes, listener.onLine, () => {
      listener.onOverflow();
    });
    const stderrDone = splitLines(this.child.stderr, Infinity, (line) =>
      listener.onStderr(line.length > STDERR_LINE_MAX ? `${line.slice(0, STDERR_LINE_MAX)}...` : line),
    );
    this.exited = new Promise<ProcessExit>((resolve) => {
      this.child.once('error', (error) => {
        this.alive = false;
        resolve({ code: null, signal: null, error });
      });
      this.child.once('exit', (code, signal) => {
        this.alive = false;
        // The pipes may still hold the answer: read them to the end, but not forever (a
        // grandchild may hold them open).
        void Promise.race([Promise.all([stdoutDone, stderrDone]), delay(1_000)]).then(() =>
          resolve({ code, signal }),
        );
      });
    });
  }

  /**
   * Starts the process. Never throws: a command that cannot start resolves {@link exited} with
   * `error`.
   */
  static start(spec: ProcessSpec, listener: ProcessListener): WorkerProcess {
    return new WorkerProcess(spec, listener);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process has not exited yet. */
  get running(): boolean {
    return this.alive;
  }

  /** Writes to its stdin; ignored once it has exited. */
  write(text: string): void {
    if (this.alive && this.child.stdin.writable) this.child.stdin.write(text);
  }

  /** Closes its stdin: the end of input, on which a pool process should exit. */
  endInput(): void {
    if (this.child.stdin.writable) this.child.stdin.end();
  }

  /** SIGKILLs the process's whole group (it and everything it started); idempotent. */
  kill(): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // ESRCH: the group is gone already.
    }
    this.child.stdout.destroy();
    this.child.stderr.destroy();
  }
}

/** Calls `onLine` for each non-empty line; resolves at the end of the stream. */
function splitLines(
  stream: NodeJS.ReadableStream,
  maxLineBytes: number,
  onLine: (line: string) => void,
  onOverflow?: () => void,
): Promise<void> {
  return new Promise((resolve) => {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let overflowed = false;
    const emit = (bytes: Buffer): void => {
      const line = bytes.toString('utf8').replace(/\r$/, '');
      if (line.trim() !== '') onLine(line);
    };
    stream.on('data', (chunk: Buffer) => {
      if (overflowed) return;
      let start = 0;
      for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, newline);
        if (pendingBytes + piece.length > maxLineBytes) break;
        emit(pending.length === 0 ? piece : Buffer.concat([...pending, piece]));
        pending = [];
        pendingBytes = 0;
        start = newline + 1;
      }
      const rest = chunk.subarray(start);
      const restLine = rest.indexOf(10) === -1 ? rest : rest.subarray(0, rest.indexOf(10));
      if (pendingBytes + restLine.length > maxLineBytes) {
        overflowed = true;
        pending = [];
        onOverflow?.();
        return;
      }
      if (rest.length > 0) {
        pending.push(Buffer.from(rest));
        pendingBytes += rest.length;
      }
    });
    const finish = (): void => {
      if (!overflowed && pending.length > 0) emit(Buffer.concat(pending));
      pending = [];
      resolve();
    };
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', finish);
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
