import { StdioProcess, type StdioCommand } from './stdio-process.js';

/** One task to send: the JSON object of its line, and the case it belongs to. */
export interface StdioTask {
  readonly name: string;
  readonly line: Record<string, unknown>;
}

/** A failed answer's error, as the worker wrote it. */
export interface AnswerError {
  code?: string;
  message: string;
  retryable?: boolean;
}

/** An answer line, read leniently (the cases judge it). */
export type LooseAnswer = ({ success: true; result: unknown } | { success: false; error: AnswerError }) & {
  /** The task id, when the answer repeats it. */
  id?: unknown;
};

/** What became of one task. */
export interface TaskRun {
  readonly name: string;
  /** The first stdout line that is an answer (a JSON object with a boolean `success`). */
  answer: LooseAnswer | undefined;
  /** Other stdout lines written during the task (logs on stdout, non-answers). */
  readonly extraLines: string[];
  /** Stdout lines of the task that are not JSON at all. */
  readonly nonJsonLines: string[];
  /** No answer (and, per task, no exit) within the timeout: the process was killed. */
  timedOut: boolean;
  /** Per task: how the process ended. Pool: set only when the process ended during the task. */
  exit: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
  /** Its last stderr line, for messages. */
  lastStderr: string;
}

/** Every task's run, plus what happened around them. */
export interface StdioSession {
  readonly runs: TaskRun[];
  /** Pool: stdout lines written while no task was running. */
  readonly between: string[];
  /** Lines seen on stderr, all processes together. */
  readonly stderrLines: number;
  /** Pool: how the process ended once its stdin closed after the last task. */
  readonly finalExit: TaskRun['exit'] | 'still running';
}

/**
 * Sends the tasks: each to a fresh process (`per-task`: the line, then stdin closes), or one after
 * another to one process (`pool`, replaced when it dies or is killed), then closes the pool's
 * stdin. A process that does not answer within `timeoutMs` is killed with its process group.
 */
export async function runStdioTasks(
  cmd: StdioCommand,
  mode: 'per-task' | 'pool',
  tasks: readonly StdioTask[],
  timeoutMs: number,
): Promise<StdioSession> {
  const runs: TaskRun[] = [];
  const between: string[] = [];
  let stderrLines = 0;
  if (mode === 'per-task') {
    for (const task of tasks) {
      const proc = new StdioProcess(cmd);
      proc.write(`${JSON.stringify(task.line)}\n`);
      proc.endInput();
      const exit = await proc.exitWithin(timeoutMs);
      if (!exit) await proc.kill();
      const run = emptyRun(task.name);
      run.timedOut = exit === undefined;
      run.exit = exit;
      for (const line of proc.stdout) classify(run, line.text);
      run.lastStderr = proc.stderr.at(-1)?.text ?? '';
      stderrLines += proc.stderr.length;
      runs.push(run);
    }
    return { runs, between, stderrLines, finalExit: undefined };
  }

  let proc = new StdioProcess(cmd);
  const retire = (old: StdioProcess): void => {
    stderrLines += old.stderr.length;
  };
  for (const task of tasks) {
    if (!proc.running) {
      retire(proc);
      proc = new StdioProcess(cmd);
    }
    // Lines written since the last answer belong to no task.
    for (let line = await proc.nextLine(0); line; line = await proc.nextLine(0)) between.push(line.text);
    const run = emptyRun(task.name);
    proc.write(`${JSON.stringify(task.line)}\n`);
    const deadline = Date.now() + timeoutMs;
    while (!run.answer) {
      const line = await proc.nextLine(deadline - Date.now());
      if (line) {
        classify(run, line.text);
        continue;
      }
      if (!proc.running) run.exit = await proc.exited;
      else {
        run.timedOut = true;
        await proc.kill();
      }
      break;
    }
    run.lastStderr = proc.stderr.at(-1)?.text ?? '';
    runs.push(run);
  }
  let finalExit: StdioSession['finalExit'];
  if (proc.running) {
    proc.endInput();
    finalExit = (await proc.exitWithin(timeoutMs)) ?? 'still running';
    if (finalExit === 'still running') await proc.kill();
  }
  for (let line = await proc.nextLine(0); line; line = await proc.nextLine(0)) between.push(line.text);
  retire(proc);
  return { runs, between, stderrLines, finalExit };
}

function emptyRun(name: string): TaskRun {
  return {
    name,
    answer: undefined,
    extraLines: [],
    nonJsonLines: [],
    timedOut: false,
    exit: undefined,
    lastStderr: '',
  };
}

/** Files a stdout line: the answer (the first that is one), or an extra line. */
function classify(run: TaskRun, text: string): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    run.nonJsonLines.push(text);
    run.extraLines.push(text);
    return;
  }
  const answer = looseAnswer(value);
  if (answer && !run.answer) run.answer = answer;
  else run.extraLines.push(text);
}

function looseAnswer(value: unknown): LooseAnswer | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const id = 'id' in record ? { id: record['id'] } : {};
  if (record['success'] === true) return { success: true, result: record['result'], ...id };
  if (record['success'] !== false) return undefined;
  const error = record['error'];
  if (typeof error === 'string') return { success: false, error: { message: error }, ...id };
  const fields = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  return {
    success: false,
    error: {
      message: typeof fields['message'] === 'string' ? fields['message'] : '(no message)',
      ...(typeof fields['code'] === 'string' ? { code: fields['code'] } : {}),
      ...(typeof fields['retryable'] === 'boolean' ? { retryable: fields['retryable'] } : {}),
    },
    ...id,
  };
}
