import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/** How to start a stdio worker. */
export interface StdioCommand {
  /** Program and arguments. */
  readonly command: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

/** A line a process wrote, and when (for the report). */
export interface OutputLine {
  readonly text: string;
  readonly at: number;
}

/**
 * A stdio worker process under test, in a process group of its own so that a hung one is killed
 * with everything it started. Collects every stdout and stderr line; `nextLine` waits for the
 * next stdout line.
 */
export class StdioProcess {
  readonly stdout: OutputLine[] = [];
  readonly stderr: OutputLine[] = [];
  /** Resolves when the process has exited and its output is read. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
  private readonly child: ChildProcessWithoutNullStreams;
  private read = 0;
  private wake: (() => void) | undefined;
  private done = false;

  constructor(cmd: StdioCommand) {
    const [program = '', ...args] = cmd.command;
    this.child = spawn(program, args, { cwd: cmd.cwd, env: cmd.env, stdio: 'pipe', detached: true });
    this.child.stdin.on('error', () => undefined);
    const stdoutEnd = lines(this.child.stdout, (text) => {
      this.stdout.push({ text, at: Date.now() });
      this.wake?.();
    });
    const stderrEnd = lines(this.child.stderr, (text) => this.stderr.push({ text, at: Date.now() }));
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        this.done = true;
        this.wake?.();
        resolve({ code: null, signal: null, error });
      });
      this.child.once('exit', (code, signal) => {
        void Promise.race([Promise.all([stdoutEnd, stderrEnd]), delay(1_000)]).then(() => {
          this.done = true;
          this.wake?.();
          resolve({ code, signal });
        });
      });
    });
  }

  get running(): boolean {
    return !this.done;
  }

  write(text: string): void {
    if (this.child.stdin.writable) this.child.stdin.write(text);
  }

  endInput(): void {
    if (this.child.stdin.writable) this.child.stdin.end();
  }

  /**
   * The next stdout line not read yet; undefined when the process ends first, or `timeoutMs`
   * passes.
   */
  async nextLine(timeoutMs: number): Promise<OutputLine | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.stdout[this.read];
      if (line) {
        this.read += 1;
        return line;
      }
      const left = deadline - Date.now();
      if (this.done || left <= 0) return undefined;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.wake = undefined;
    }
  }

  /** Waits up to `timeoutMs` for the exit; undefined when the process still runs then. */
  async exitWithin(
    timeoutMs: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      this.exited,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs))),
    ]);
    clearTimeout(timer);
    return result;
  }

  /** SIGKILLs the whole process group (what the worker started, too) and waits for the exit. */
  async kill(): Promise<void> {
    const pid = this.child.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await this.exited;
  }
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve) => {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const part of parts) if (part.trim() !== '') onLine(part.replace(/\r$/, ''));
    });
    const end = (): void => {
      if (buffered.trim() !== '') onLine(buffered);
      buffered = '';
      resolve();
    };
    stream.once('end', end);
    stream.once('close', end);
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
