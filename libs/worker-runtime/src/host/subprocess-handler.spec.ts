import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { CrankError, defineCapability, type Capability } from '@crank/capabilities';
import { pino } from 'pino';
import type { HandlerContext } from '../handler.js';
import { PerTaskRunner } from './per-task-runner.js';
import { ProcessPool } from './process-pool.js';
import { subprocessHandler, type SubprocessHandler } from './subprocess-handler.js';
import type { TaskRunner } from './task-runner.js';

const FIXTURE = join(import.meta.dirname, '__fixtures__/stdio-worker.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'crank-host-spec-'));

const TASK = defineCapability({
  id: 'test.task',
  version: '1.0.0',
  inputSchema: { type: 'object' },
  outputSchema: true,
  errorCodes: ['INVALID_INPUT', 'PAYLOAD_TOO_LARGE'],
});
const STRICT = defineCapability({ ...TASK.definition, id: 'test.strict', errorCodes: [] });

/** Every line logged through the handler's ctx.logger, parsed. */
const logs: Record<string, unknown>[] = [];
const logger = pino(
  { level: 'trace', base: undefined },
  { write: (line: string) => void logs.push(JSON.parse(line)) },
);

interface Setup {
  mode: 'per-task' | 'pool';
  timeoutMs?: number;
  concurrency?: number;
  maxRetries?: number;
  maxOutputBytes?: number;
  env?: Record<string, string>;
  capability?: Capability;
}

const opened: TaskRunner[] = [];

function handlerFor(setup: Setup): SubprocessHandler {
  const spec = {
    command: process.execPath,
    args: [FIXTURE],
    cwd: scratch,
    env: { PATH: process.env['PATH'] ?? '', ...setup.env },
    maxOutputBytes: setup.maxOutputBytes ?? 1_000_000,
  };
  const settings = {
    worker: 'fixture',
    timeoutMs: setup.timeoutMs ?? 10_000,
    concurrency: setup.concurrency ?? 1,
    logger,
  };
  const runner = setup.mode === 'pool' ? new ProcessPool(spec, settings) : new PerTaskRunner(spec, settings);
  opened.push(runner);
  runner.start();
  return subprocessHandler(setup.capability ?? TASK, runner, {
    worker: 'fixture',
    maxRetries: setup.maxRetries ?? 0,
  });
}

let calls = 0;
function context(signal = new AbortController().signal): HandlerContext {
  calls += 1;
  return { signal, requestId: `req-${calls}`, capability: 'test.task', logger } as unknown as HandlerContext;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((runner) => runner.close()));
  logs.length = 0;
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe.each(['per-task', 'pool'] as const)('a %s worker', (mode) => {
  it('answers with the result, and forwards stderr as log lines with the task id', async () => {
    const handler = handlerFor({ mode });
    const ctx = context();
    await expect(handler({ do: 'echo', result: { n: 1 } }, ctx)).resolves.toEqual({ n: 1 });
    expect(logs).toContainEqual(
      expect.objectContaining({
        event: 'subprocess_log',
        taskId: ctx.requestId,
        msg: `task ${ctx.requestId}: echo`,
      }),
    );
  });

  it('fails with the code the worker names, when its capability declares it', async () => {
    const handler = handlerFor({ mode });
    await expect(
      handler({ do: 'fail', code: 'INVALID_INPUT', message: 'text: too short' }, context()),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: 'text: too short',
    });
  });

  it('fails INTERNAL for an error without a code, or with an unknown one', async () => {
    const handler = handlerFor({ mode });
    await expect(handler({ do: 'fail', message: 'broke' }, context())).rejects.toMatchObject({
      code: 'INTERNAL',
      message: 'worker "fixture" failed: broke',
    });
    await expect(handler({ do: 'fail', code: 'OOPS', message: 'broke' }, context())).rejects.toMatchObject({
      code: 'INTERNAL',
      message: 'worker "fixture" failed with an unknown error code "OOPS": broke',
    });
  });

  it('fails INTERNAL for a line on stdout that is not JSON, and keeps serving', async () => {
    const handler = handlerFor({ mode });
    await expect(handler({ do: 'garbage' }, context())).rejects.toMatchObject({
      code: 'INTERNAL',
      message:
        'worker "fixture" wrote a line on stdout that is not JSON: "this is not json" (logs belong on stderr)',
    });
    await expect(handler({ do: 'echo', result: 2 }, context())).resolves.toBe(2);
  });

  it('fails INTERNAL for an answer that names another task', async () => {
    const handler = handlerFor({ mode });
    await expect(handler({ do: 'echo-id', id: 'someone-else' }, context())).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining('answered for task "\\"someone-else\\"" while task "req-'),
    });
  });

  it('fails INTERNAL when the process crashes, and keeps serving', async () => {
    const handler = handlerFor({ mode });
    await expect(handler({ do: 'crash' }, context())).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(
        /^worker "fixture" crashed.* killed by SIGSEGV; its last stderr line: "task req-\d+: crash"$/,
      ),
    });
    await expect(handler({ do: 'echo', result: 3 }, context())).resolves.toBe(3);
  });

  it('kills the whole process group on timeout and fails DEADLINE_EXCEEDED, then keeps serving', async () => {
    // Long enough for a fresh Node process to start and note its grandchild on a loaded machine.
    const handler = handlerFor({ mode, timeoutMs: 4_000 });
    const pidFile = join(scratch, `grandchild-${mode}.pid`);
    await expect(handler({ do: 'hang-with-child', pidFile }, context())).rejects.toMatchObject({
      code: 'DEADLINE_EXCEEDED',
      message: 'worker "fixture" did not answer within timeoutMs (4000 ms); its process group was killed',
    });
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await eventually(() => !alive(grandchild));
    await expect(handler({ do: 'echo', result: 4 }, context())).resolves.toBe(4);
  });

  it('kills the process when the call is aborted, answering with the abort reason', async () => {
    const handler = handlerFor({ mode });
    const abort = new AbortController();
    const pidFile = join(scratch, `aborted-${mode}.pid`);
    const pending = handler({ do: 'hang-with-child', pidFile }, context(abort.signal));
    await eventually(() => existsSync(pidFile));
    abort.abort(new CrankError('CANCELLED', 'the caller cancelled the call'));
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
    await eventually(() => !alive(Number(readFileSync(pidFile, 'utf8'))));
  });

  it('fails PAYLOAD_TOO_LARGE for an answer over maxOutputBytes, or INTERNAL when undeclared', async () => {
    const handler = handlerFor({ mode, maxOutputBytes: 1_000 });
    await expect(handler({ do: 'big', bytes: 100_000 }, context())).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      message:
        'worker "fixture" wrote an answer larger than maxOutputBytes (1000 bytes); its process group was killed',
    });
    const strict = handlerFor({ mode, maxOutputBytes: 1_000, capability: STRICT });
    await expect(strict({ do: 'big', bytes: 100_000 }, context())).rejects.toMatchObject({
      code: 'INTERNAL',
    });
    await expect(handler({ do: 'echo', result: 5 }, context())).resolves.toBe(5);
  });

  it('tries a retriable failure again, up to maxRetries', async () => {
    const counterFile = join(scratch, `flaky-${mode}`);
    const handler = handlerFor({ mode, maxRetries: 2 });
    await expect(handler({ do: 'flaky', failures: 2, counterFile }, context())).resolves.toEqual({
      attempts: 3,
    });
    rmSync(counterFile);
    const once = handlerFor({ mode, maxRetries: 1 });
    await expect(once({ do: 'flaky', failures: 5, counterFile }, context())).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message:
        'worker "fixture" failed 2 time(s) with a retriable failure: worker "fixture" failed: attempt 2 failed',
    });
  });
});

describe('a per-task worker', () => {
  it('reads the exit code: 2 is permanent, 0 without an answer and unknown codes are INTERNAL', async () => {
    const handler = handlerFor({ mode: 'per-task', maxRetries: 3 });
    await expect(handler({ do: 'exit', exit: 2 }, context())).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(
        /^worker "fixture" exited with code 2; .* \(a permanent failure\) without an error answer$/,
      ),
    });
    await expect(handler({ do: 'exit', exit: 0 }, context())).rejects.toMatchObject({
      message: 'worker "fixture" exited with 0 without writing an answer on stdout',
    });
    await expect(handler({ do: 'exit', exit: 7 }, context())).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(/^worker "fixture" crashed: it exited with code 7;/),
    });
    await expect(handler({ do: 'exit', exit: 1 }, context())).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/^worker "fixture" failed 4 time\(s\) with a retriable failure/),
    });
  });

  it('refuses more than one line on stdout: logs belong on stderr', async () => {
    const handler = handlerFor({ mode: 'per-task' });
    await expect(handler({ do: 'two-lines' }, context())).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining(
        'wrote 2 lines on stdout; a task is answered with exactly one JSON line',
      ),
    });
  });

  it('runs at most `concurrency` processes at once; the others wait their turn', async () => {
    const handler = handlerFor({ mode: 'per-task', concurrency: 1, timeoutMs: 60_000 });
    const abort = new AbortController();
    const pidFile = join(scratch, 'busy.pid');
    const first = handler({ do: 'hang-with-child', pidFile }, context(abort.signal));
    await eventually(() => existsSync(pidFile));
    let second: unknown;
    const next = handler({ do: 'echo', result: 6 }, context()).then((value) => (second = value));
    await new Promise((resolve) => setImmediate(resolve));
    expect(second).toBeUndefined();
    abort.abort(new CrankError('CANCELLED', 'cancelled'));
    await expect(first).rejects.toMatchObject({ code: 'CANCELLED' });
    await next;
    expect(second).toBe(6);
  });
});

describe('a pool worker', () => {
  it('replaces a process that writes on stdout while no task runs (a banner: logs belong on stderr)', async () => {
    handlerFor({ mode: 'pool', env: { FIXTURE_BANNER: '1' } });
    await eventually(() => logs.some((line) => line['event'] === 'subprocess_protocol_error'));
    await eventually(() => logs.some((line) => line['event'] === 'subprocess_replaced'));
  });

  it('keeps its processes between tasks', async () => {
    const handler = handlerFor({ mode: 'pool' });
    await handler({ do: 'echo' }, context());
    await handler({ do: 'echo' }, context());
    const pids = new Set(logs.filter((l) => l['event'] === 'subprocess_log').map((l) => l['pid']));
    expect(pids.size).toBe(1);
  });
});

/** Whether a process still runs (a zombie waiting for a reaper does not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
