/**
 * What a pool thread of `inThreads` (thread-pool.ts) runs for each call: it loads the task module,
 * calls the export, and turns a thrown error into plain data, because structured clone keeps only
 * the message and stack of an Error and drops its contract `code`. Piscina loads this file by path
 * in every thread, so it imports nothing: a thread is as light as the task module it runs.
 */

/** What the main thread sends for one call. */
export interface ThreadTaskMessage {
  /** URL of the task module, as `import()` takes it. */
  readonly moduleUrl: string;
  readonly exportName: string;
  readonly input: unknown;
  readonly info: ThreadTaskInfo;
}

/** The call's facts a task function gets as its second argument. */
export interface ThreadTaskInfo {
  /** Capability id of this call. */
  readonly capability: string;
  /** The exact version of the capability the controller chose for this call. */
  readonly version: string;
  readonly requestId: string;
  /** The caller's deadline; undefined when none was set. */
  readonly deadline: Date | undefined;
}

/** A thrown error as data: what `crankErrorFrom` needs to rebuild it on the main thread. */
export interface ThreadTaskFailure {
  /** The error's `code` when it had a string one (a contract code or e.g. `ENOENT`). */
  readonly code: string | undefined;
  readonly message: string;
  /** JSON copy of `details`; undefined when there were none or they were not JSON. */
  readonly details: Record<string, unknown> | undefined;
  readonly retryable: boolean | undefined;
  /** The thread's stack, kept as the rebuilt error's `cause` for logs. */
  readonly stack: string | undefined;
}

/** What a pool thread sends back: the task's result or its error as data. */
export type ThreadTaskOutcome =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: ThreadTaskFailure };

/** A task function as a task module exports it. */
type TaskFunction = (input: unknown, info: ThreadTaskInfo) => unknown;

/**
 * Resolved exports by `moduleUrl#exportName`. Only ever grows to the number of distinct task
 * exports a worker serves, so it needs no bound.
 */
const functions = new Map<string, Promise<TaskFunction>>();

async function load(moduleUrl: string, exportName: string): Promise<TaskFunction> {
  const exports = (await import(moduleUrl)) as Record<string, unknown>;
  const fn = exports[exportName];
  if (typeof fn !== 'function') {
    throw new Error(`thread task: ${moduleUrl} exports no function named "${exportName}"`);
  }
  return fn as TaskFunction;
}

/**
 * Runs one call in this thread. Piscina calls it with the message and posts the outcome back; it
 * never rejects, since a module that fails to load is reported as the call's error too.
 */
export default async function runThreadTask(message: ThreadTaskMessage): Promise<ThreadTaskOutcome> {
  const key = `${message.moduleUrl}#${message.exportName}`;
  let fn = functions.get(key);
  if (!fn) {
    fn = load(message.moduleUrl, message.exportName);
    functions.set(key, fn);
    // A failed load is not kept: the next call tries again.
    fn.catch(() => functions.delete(key));
  }
  let outcome: ThreadTaskOutcome;
  try {
    const input = message.input instanceof Uint8Array ? asBuffer(message.input) : message.input;
    outcome = { ok: true, value: await (await fn)(input, message.info) };
  } catch (error) {
    outcome = { ok: false, error: failureOf(error) };
  }
  return outcome;
}

/** Structured clone turns a Buffer into a plain Uint8Array; the handler's input was a Buffer. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function failureOf(error: unknown): ThreadTaskFailure {
  if (!(error instanceof Error)) {
    return {
      code: undefined,
      message: String(error),
      details: undefined,
      retryable: undefined,
      stack: undefined,
    };
  }
  const { code, details, retryable } = error as Error & {
    code?: unknown;
    details?: unknown;
    retryable?: unknown;
  };
  return {
    code: typeof code === 'string' ? code : undefined,
    message: error.message,
    details: jsonCopy(details),
    retryable: typeof retryable === 'boolean' ? retryable : undefined,
    stack: error.stack,
  };
}

/** Contract details must be JSON; anything else is dropped rather than failing the clone. */
function jsonCopy(details: unknown): Record<string, unknown> | undefined {
  if (typeof details !== 'object' || details === null || Array.isArray(details)) return undefined;
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
