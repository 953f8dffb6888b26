import { CrankError, crankErrorFrom, isErrorCode } from '@crank/capabilities';

/**
 * The stdio protocol between `crank-host` and a worker process: one JSON line per task on the
 * process's stdin, one JSON line per answer on its stdout; logs go to stderr.
 *
 * ```
 * -> {"id":"3f0c...","type":"text.stats","params":{"text":"a b"}}
 * <- {"success":true,"result":{"words":2}}
 * <- {"success":false,"error":{"code":"INVALID_INPUT","message":"text: must not be empty"}}
 * ```
 *
 * In `per-task` mode the process also ends with an exit code: {@link EXIT_SUCCESS},
 * {@link EXIT_RETRIABLE} or {@link EXIT_PERMANENT}.
 */
export interface TaskRequest {
  /** The task id: the call's request id, also on every log line of the task. */
  readonly id: string;
  /** The capability id the task is for. */
  readonly type: string;
  /** The call's input, already checked against the capability's input schema. */
  readonly params: unknown;
}

/** The error object of a failed answer. */
export interface TaskErrorInfo {
  /** A contract code the capability declares (`INVALID_INPUT`, ...); INTERNAL when absent. */
  readonly code?: string;
  readonly message: string;
  /** Whether the same task may succeed when sent again (pool mode's "exit code 1"). */
  readonly retryable?: boolean;
  readonly details?: Record<string, unknown>;
}

/** One answer line, checked. */
export type TaskAnswer =
  | { readonly success: true; readonly result: unknown }
  | { readonly success: false; readonly error: TaskErrorInfo };

/** Per-task exit code: the task succeeded. */
export const EXIT_SUCCESS = 0;
/** Per-task exit code: the task failed, and may succeed when tried again. */
export const EXIT_RETRIABLE = 1;
/** Per-task exit code: the task failed, and would fail again. */
export const EXIT_PERMANENT = 2;

/** How a task ended, as the host decides it from the answer and the process. */
export type TaskOutcome =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: CrankError; readonly retryable: boolean };

/** The longest stretch of a worker's output quoted in an error message. */
const QUOTE_MAX = 200;

/** The line written to the process's stdin for a task (with its newline). */
export function encodeTask(task: TaskRequest): string {
  return `${JSON.stringify({ id: task.id, type: task.type, params: task.params })}\n`;
}

/**
 * Reads one answer line. An answer may repeat the task's `id`, which must then match; `error`
 * may be a bare message string.
 *
 * @throws Error whose message says how the line breaks the protocol (quoting at most 200 characters)
 */
export function parseTaskAnswer(line: string, taskId: string): TaskAnswer {
  let value: unknown;
  try {
    value = JSON.parse(line) as unknown;
  } catch {
    throw new Error(`wrote a line on stdout that is not JSON: ${quote(line)} (logs belong on stderr)`);
  }
  if (!isRecord(value) || typeof value['success'] !== 'boolean') {
    throw new Error(
      `answered ${quote(line)}: an answer is an object with "success": true or false (logs belong on stderr)`,
    );
  }
  if (value['id'] !== undefined && value['id'] !== taskId) {
    throw new Error(
      `answered for task ${quote(JSON.stringify(value['id']))} while task "${taskId}" was running`,
    );
  }
  if (value['success']) {
    if (!('result' in value)) throw new Error('answered "success": true without a "result"');
    return { success: true, result: value['result'] };
  }
  const error = value['error'];
  if (typeof error === 'string') return { success: false, error: { message: error } };
  if (!isRecord(error) || typeof error['message'] !== 'string') {
    throw new Error('answered "success": false without an "error" object holding a "message" string');
  }
  return {
    success: false,
    error: {
      message: error['message'],
      ...(typeof error['code'] === 'string' ? { code: error['code'] } : {}),
      ...(typeof error['retryable'] === 'boolean' ? { retryable: error['retryable'] } : {}),
      ...(isRecord(error['details']) ? { details: error['details'] } : {}),
    },
  };
}

/**
 * The error a failed answer stands for: the contract code the worker named (the runtime then
 * checks that the capability declares it), or INTERNAL when it named none or an unknown one.
 */
export function errorOfAnswer(error: TaskErrorInfo, worker: string): CrankError {
  if (error.code !== undefined && isErrorCode(error.code)) {
    return crankErrorFrom(error.code, error.message, error.details);
  }
  const named = error.code === undefined ? '' : ` with an unknown error code ${quote(error.code)}`;
  return new CrankError('INTERNAL', `worker "${worker}" failed${named}: ${error.message}`, {
    details: { worker, ...(error.code === undefined ? {} : { originalCode: error.code }) },
  });
}

/** `text` in quotes, cut to {@link QUOTE_MAX} characters. */
export function quote(text: string): string {
  const cut = text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX)}...` : text;
  return JSON.stringify(cut);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
