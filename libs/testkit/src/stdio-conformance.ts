import { randomUUID } from 'node:crypto';
import type { Capability } from '@crank/capabilities';
import { EXIT_PERMANENT, EXIT_RETRIABLE, EXIT_SUCCESS } from '@crank/worker-runtime';
import { failed, passed, skipped, type ConformanceResult } from './conformance-result.js';
import { generateValidInput } from './generated-input.js';
import { runStdioTasks, type StdioTask, type TaskRun } from './stdio-session.js';

/** The names of the stdio protocol cases, in the order they are reported. */
export const STDIO_CASES = Object.freeze({
  valid: 'a valid task is answered with "success": true and a valid result',
  missingId: 'a task without an id is refused with "success": false',
  unknownType: 'a task of an unknown type is refused with "success": false',
  emptyParams: 'a task with empty params gets one JSON answer',
  nonJson: 'every line on stdout is JSON',
  timeout: 'every task is answered within the timeout',
  exitCodes: 'exit codes follow the protocol',
  stderrLogs: 'logs go to stderr: one line on stdout per task',
});

/** The task type no worker serves, sent by the unknown-type case. */
export const UNKNOWN_TYPE = 'crank-conformance.unknown-type';

/** Options of {@link runStdioConformance}. */
export interface StdioConformanceOptions {
  /** The worker's command line: the program, then its arguments. */
  command: readonly string[];
  /** @default this process's working directory */
  cwd?: string;
  /**
   * The worker's whole environment.
   * @default as `crank-host` gives it: this process's, less `CRANK_*`, with `PYTHONUNBUFFERED=1`
   */
  env?: Readonly<Record<string, string>>;
  /** `per-task` (a process per task, exit codes) or `pool` (one process, a task per line). @default 'per-task' */
  mode?: 'per-task' | 'pool';
  /** The capability the worker serves: its id is the task type, its schemas check params and results. */
  capability?: Capability;
  /**
   * The task type of the valid task. @default `capability.id`; with neither, the cases that need
   * a type the worker serves (the valid task, empty params) are skipped
   */
  type?: string;
  /** The params of the valid task. @default generated from the capability's input schema, else `{}` */
  params?: unknown;
  /** Longest wait for an answer (and, per task, for the exit). @default 10000 */
  timeoutMs?: number;
}

/**
 * Checks a worker process against the stdio protocol of `crank-host`, without a controller: a
 * valid task, a task without an id, a task of an unknown type and a task with empty params are
 * sent (each to a fresh process in `per-task` mode, one after another to one process in `pool`
 * mode), and the answers, stdout, stderr, timing and exit codes are judged. One result per
 * {@link STDIO_CASES} entry.
 *
 * @throws TypeError when `command` is empty
 */
export async function runStdioConformance(options: StdioConformanceOptions): Promise<ConformanceResult[]> {
  const type = options.type ?? options.capability?.id;
  if (options.command.length === 0) throw new TypeError('command: give the program to run');
  const mode = options.mode ?? 'per-task';
  const timeoutMs = options.timeoutMs ?? 10_000;
  const capability = options.capability;
  const params =
    options.params ?? (capability ? (await generateValidInput(capability))?.input : undefined) ?? {};
  const task = (name: string, line: Record<string, unknown>): StdioTask => ({ name, line });
  const validId = `conformance-valid-${randomUUID()}`;
  const tasks = [
    ...(type ? [task(STDIO_CASES.valid, { id: validId, type, params })] : []),
    task(STDIO_CASES.missingId, { type: type ?? UNKNOWN_TYPE, params }),
    task(STDIO_CASES.unknownType, { id: `conformance-unknown-${randomUUID()}`, type: UNKNOWN_TYPE, params }),
    ...(type
      ? [task(STDIO_CASES.emptyParams, { id: `conformance-empty-${randomUUID()}`, type, params: {} })]
      : []),
  ];
  const session = await runStdioTasks(
    { command: options.command, cwd: options.cwd ?? process.cwd(), env: options.env ?? defaultEnv() },
    mode,
    tasks,
    timeoutMs,
  );
  const runOf = (name: string): TaskRun | undefined => session.runs.find((run) => run.name === name);
  const noType = 'no task type the worker serves was given (--type, or a capability)';
  const hint =
    mode === 'pool'
      ? ' (a pool process answers each line while its stdin stays open: flush stdout after each answer)'
      : '';
  const noAnswer = (run: TaskRun): string =>
    run.timedOut
      ? `no answer within ${timeoutMs} ms${hint}`
      : `no answer on stdout; the process ${describeEnd(run)}`;

  const results: ConformanceResult[] = [];
  // The valid task: success, a result the output schema accepts, the right id if echoed.
  const valid = runOf(STDIO_CASES.valid);
  if (!valid) results.push(skipped(STDIO_CASES.valid, noType));
  else if (!valid.answer) results.push(failed(STDIO_CASES.valid, noAnswer(valid)));
  else if (!valid.answer.success)
    results.push(
      failed(
        STDIO_CASES.valid,
        `refused it: ${errorText(valid.answer.error)} (sent ${JSON.stringify(params)})`,
      ),
    );
  else if (valid.answer.id !== undefined && valid.answer.id !== validId) {
    results.push(
      failed(
        STDIO_CASES.valid,
        `answered with "id": ${JSON.stringify(valid.answer.id)}, not the task's "${validId}"`,
      ),
    );
  } else {
    const issue = capability?.validateOutput(valid.answer.result)[0];
    results.push(
      issue
        ? failed(STDIO_CASES.valid, `result ${issue.path || '/'}: ${issue.message}`)
        : passed(STDIO_CASES.valid, undefined, `sent ${JSON.stringify(params).slice(0, 100)}`),
    );
  }
  for (const [name, what] of [
    [STDIO_CASES.missingId, 'a task without an id'],
    [STDIO_CASES.unknownType, 'a task of an unknown type'],
  ] as const) {
    const run = runOf(name) as TaskRun;
    if (!run.answer) results.push(failed(name, noAnswer(run)));
    else if (run.answer.success) results.push(failed(name, `answered "success": true to ${what}`));
    else results.push(passed(name, undefined, errorText(run.answer.error)));
  }
  const emptyParams = runOf(STDIO_CASES.emptyParams);
  if (!emptyParams) results.push(skipped(STDIO_CASES.emptyParams, noType));
  else if (!emptyParams.answer) results.push(failed(STDIO_CASES.emptyParams, noAnswer(emptyParams)));
  else if (emptyParams.answer.success && capability && capability.validateInput({}).length > 0) {
    results.push(
      failed(STDIO_CASES.emptyParams, 'answered "success": true to params the input schema refuses'),
    );
  } else {
    const issue = emptyParams.answer.success
      ? capability?.validateOutput(emptyParams.answer.result)[0]
      : undefined;
    results.push(
      issue
        ? failed(STDIO_CASES.emptyParams, `result ${issue.path || '/'}: ${issue.message}`)
        : passed(STDIO_CASES.emptyParams),
    );
  }
  results.push(nonJsonCase(session.runs, session.between));
  const late = session.runs.filter((run) => run.timedOut);
  results.push(
    late.length > 0
      ? failed(
          STDIO_CASES.timeout,
          `no answer within ${timeoutMs} ms to: ${late.map((r) => taskLabel(r)).join(', ')}${hint}`,
        )
      : passed(STDIO_CASES.timeout, undefined, `timeout ${timeoutMs} ms`),
  );
  results.push(
    mode === 'pool'
      ? poolExitCase(session.runs, session.finalExit, timeoutMs)
      : perTaskExitCase(session.runs),
  );
  const extra = [
    ...session.runs.flatMap((run) => run.extraLines.map((line) => `${line} (${taskLabel(run)})`)),
    ...session.between,
  ];
  results.push(
    extra.length > 0
      ? failed(
          STDIO_CASES.stderrLogs,
          `${extra.length} line(s) on stdout besides the answers (logs belong on stderr), the first: ${clip(extra[0] ?? '')}`,
        )
      : passed(STDIO_CASES.stderrLogs, undefined, `${session.stderrLines} line(s) on stderr`),
  );
  return results;
}

function nonJsonCase(runs: readonly TaskRun[], between: readonly string[]): ConformanceResult {
  for (const run of runs) {
    const line = run.nonJsonLines[0];
    if (line !== undefined)
      return failed(STDIO_CASES.nonJson, `${clip(line)} (${taskLabel(run)}) is not JSON`);
  }
  const stray = between.find((line) => !isJson(line));
  if (stray !== undefined) return failed(STDIO_CASES.nonJson, `${clip(stray)} (between tasks) is not JSON`);
  return passed(STDIO_CASES.nonJson);
}

function perTaskExitCase(runs: readonly TaskRun[]): ConformanceResult {
  for (const run of runs) {
    if (run.timedOut || !run.exit) continue;
    const code = run.exit.code;
    if (!run.answer) {
      if (code === EXIT_SUCCESS)
        return failed(STDIO_CASES.exitCodes, `exited with 0 without an answer (${taskLabel(run)})`);
      continue;
    }
    const expected = run.answer.success
      ? EXIT_SUCCESS
      : run.answer.error.retryable === true
        ? EXIT_RETRIABLE
        : EXIT_PERMANENT;
    if (code !== expected) {
      return failed(
        STDIO_CASES.exitCodes,
        `${taskLabel(run)}: the process ${describeEnd(run)} after answering "success": ${String(run.answer.success)}; ` +
          `expected ${expected} (0 success, 1 retriable failure, 2 permanent failure)`,
      );
    }
  }
  return passed(STDIO_CASES.exitCodes, undefined, '0 after success, 2 after a refusal');
}

function poolExitCase(
  runs: readonly TaskRun[],
  finalExit: TaskRun['exit'] | 'still running',
  timeoutMs: number,
): ConformanceResult {
  const died = runs.find((run) => run.exit && !run.timedOut);
  if (died) {
    return failed(
      STDIO_CASES.exitCodes,
      `the process ${describeEnd(died)} before answering ${taskLabel(died)}: a pool process keeps reading tasks until its stdin closes`,
    );
  }
  if (finalExit === 'still running') {
    return failed(
      STDIO_CASES.exitCodes,
      `still running ${timeoutMs} ms after its stdin closed (it should exit 0)`,
    );
  }
  if (finalExit && finalExit.code !== 0) {
    return failed(
      STDIO_CASES.exitCodes,
      `exited with ${String(finalExit.code ?? finalExit.signal)} when its stdin closed (expected 0)`,
    );
  }
  return passed(STDIO_CASES.exitCodes, undefined, 'kept running between tasks, exited 0 when stdin closed');
}

function describeEnd(run: TaskRun): string {
  const exit = run.exit;
  if (!exit) return 'is still running';
  if (exit.error) return `could not be started (${exit.error.message})`;
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with ${String(exit.code)}`;
  return run.lastStderr ? `${how} (last stderr line: ${clip(run.lastStderr)})` : how;
}

function taskLabel(run: TaskRun): string {
  const labels: Record<string, string> = {
    [STDIO_CASES.valid]: 'the valid task',
    [STDIO_CASES.missingId]: 'the task without an id',
    [STDIO_CASES.unknownType]: 'the task of an unknown type',
    [STDIO_CASES.emptyParams]: 'the task with empty params',
  };
  return labels[run.name] ?? run.name;
}

function errorText(error: { code?: string; message: string }): string {
  return error.code ? `${error.code}: ${error.message}` : error.message;
}

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

function clip(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 117)}...` : text);
}

/** The environment `crank-host` gives a worker: this process's less `CRANK_*`, unbuffered Python. */
export function defaultEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('CRANK_')) env[key] = value;
  }
  env['PYTHONUNBUFFERED'] = '1';
  return env;
}
