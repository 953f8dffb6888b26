import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { transformFileSync } from '@swc/core';
import { CapabilityError, CrankError } from '@crank/capabilities';
import type { ServedCapability } from './handler.js';
import {
  closeHandlers,
  compileThreadPoolOptions,
  threadedHandler,
  type ThreadCallContext,
  type ThreadedHandler,
  type ThreadPoolOptions,
} from './thread-pool.js';

const TASKS = new URL('./__fixtures__/thread-tasks.mjs', import.meta.url);

// Jest runs this file from TypeScript; pool threads load files directly, so the runner they load
// is compiled here (what the build does for the published package).
const runnerDir = mkdtempSync(join(tmpdir(), 'crank-thread-runner-'));
let runnerUrl: URL;
const handlers: ThreadedHandler<unknown, unknown>[] = [];

beforeAll(() => {
  const { code } = transformFileSync(new URL('./thread-task-runner.ts', import.meta.url).pathname, {
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    module: { type: 'es6' },
  });
  const file = join(runnerDir, 'thread-task-runner.mjs');
  writeFileSync(file, code);
  runnerUrl = pathToFileURL(file);
});

afterAll(async () => {
  await Promise.all(handlers.map((h) => h.close()));
  rmSync(runnerDir, { recursive: true, force: true });
});

function pool<I, O>(exportName: string, options: ThreadPoolOptions = {}): ThreadedHandler<I, O> {
  const handler = threadedHandler<I, O>(
    compileThreadPoolOptions(TASKS, { exportName, threads: 1, ...options }),
    runnerUrl,
  );
  handlers.push(handler as ThreadedHandler<unknown, unknown>);
  return handler;
}

function context(signal = new AbortController().signal): ThreadCallContext {
  return {
    signal,
    deadline: new Date('2030-01-02T03:04:05.000Z'),
    capability: 'debug.thread',
    version: '1.2.3',
    requestId: 'req-1',
  };
}

/** Polls until `check` holds; the pool's threads start at their own pace on a loaded machine. */
async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('inThreads', () => {
  it('runs the task in a worker thread and resolves with its result', async () => {
    const echo = pool<{ n: number }, unknown>('echo');
    await expect(echo({ n: 7 }, context())).resolves.toEqual({
      input: { n: 7 },
      info: {
        capability: 'debug.thread',
        version: '1.2.3',
        requestId: 'req-1',
        deadline: new Date('2030-01-02T03:04:05.000Z'),
      },
      inThread: true,
    });
  });

  it("keeps a CapabilityError's code, message and details across the thread boundary", async () => {
    const unsupported = pool<{ from: string }, never>('unsupported');
    const error = await unsupported({ from: 'docx' }, context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CapabilityError);
    expect(error).toMatchObject({
      code: 'UNSUPPORTED_FORMAT',
      message: 'from: "docx" is not supported',
      details: { supported: ['pdf'] },
      retryable: false,
    });
  });

  it('turns a plain Error into INTERNAL with its message, keeping the thread stack as cause', async () => {
    const error = await pool('plainError')(null, context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrankError);
    expect(error).toMatchObject({ code: 'INTERNAL', message: 'the disk is on fire' });
    expect(((error as Error).cause as Error).stack).toContain('plainError');
  });

  it('fails with INTERNAL naming the export when the module has no such function', async () => {
    await expect(pool('notAFunction')(null, context())).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining('exports no function named "notAFunction"'),
    });
  });

  it('rejects with the signal reason at once when aborted mid-task, then serves the next call', async () => {
    const spin = pool<{ started: Int32Array; ms: number }, { spun: number }>('spin');
    const started = new Int32Array(new SharedArrayBuffer(4));
    const abort = new AbortController();
    // A minute of spinning: only terminating the thread ends the call before the test times out.
    const call = spin({ started, ms: 60_000 }, context(abort.signal));
    await eventually(() => Atomics.load(started, 0) === 1);
    const reason = new CrankError('CANCELLED', 'the caller cancelled the call');
    abort.abort(reason);
    await expect(call).rejects.toBe(reason);

    // The pool has one thread; the next call runs on the one that replaced the terminated thread.
    await expect(
      spin({ started: new Int32Array(new SharedArrayBuffer(4)), ms: 0 }, context()),
    ).resolves.toEqual({ spun: 0 });
  });

  it('rejects with the reason without running the task when the signal is already aborted', async () => {
    const abort = new AbortController();
    const reason = new CrankError('DEADLINE_EXCEEDED', 'deadline passed');
    abort.abort(reason);
    await expect(pool('echo')({}, context(abort.signal))).rejects.toBe(reason);
  });

  it('fails a call with RESOURCE_EXHAUSTED when every thread is busy and the queue is full', async () => {
    const spin = pool<{ started: Int32Array; ms: number }, { spun: number }>('spin', { maxQueue: 1 });
    const started = new Int32Array(new SharedArrayBuffer(4));
    const abort = new AbortController();
    const busy = spin({ started, ms: 60_000 }, context(abort.signal));
    await eventually(() => Atomics.load(started, 0) === 1);
    const queued = spin({ started: new Int32Array(new SharedArrayBuffer(4)), ms: 0 }, context());

    await expect(spin({ started, ms: 0 }, context())).rejects.toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
      message: expect.stringContaining('all 1 threads are busy and the queue is full (maxQueue 1)'),
    });
    abort.abort(new CrankError('CANCELLED', 'cancelled'));
    await expect(busy).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(queued).resolves.toEqual({ spun: 0 });
  });

  it('passes Buffers in and out: a Buffer at the top level, bytes when nested', async () => {
    const reverse = pool<Buffer, { isBuffer: boolean; bytes: Uint8Array; wrapped: { data: Uint8Array } }>(
      'reverseBytes',
    );
    const result = await reverse(Buffer.from([1, 2, 3]), context());
    expect(result.isBuffer).toBe(true);
    expect([...result.bytes]).toEqual([3, 2, 1]);
    expect([...result.wrapped.data]).toEqual([3, 2, 1]);

    const out = await pool<{ text: string }, Buffer>('bytesOut')({ text: 'hi' }, context());
    expect(Buffer.isBuffer(out)).toBe(true);
    expect(out.toString('utf8')).toBe('hi!');
  });

  it('refuses a stream of records with INTERNAL', async () => {
    async function* records(): AsyncGenerator<number> {
      yield 1;
    }
    await expect(pool('echo')(records(), context())).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining('serves unary input only'),
    });
  });

  it('close() ends the pool: a running call fails with UNAVAILABLE, and so does every later one', async () => {
    const spin = pool<{ started: Int32Array; ms: number }, unknown>('spin');
    const started = new Int32Array(new SharedArrayBuffer(4));
    const call = spin({ started, ms: 60_000 }, context());
    await eventually(() => Atomics.load(started, 0) === 1);

    const failed = expect(call).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    const closed = spin.close();
    expect(spin.close()).toBe(closed);
    await closed;
    await failed;
    await expect(spin({ started, ms: 0 }, context())).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('the thread pool is closed'),
    });
  });

  it('close() on a handler never called starts no pool', async () => {
    const never = pool('echo');
    await never.close();
    await expect(never({}, context())).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('closeHandlers', () => {
  it('closes each handler that has close() once, and skips plain functions', async () => {
    let closes = 0;
    const closable = Object.assign(() => undefined, {
      close: async (): Promise<void> => {
        closes += 1;
      },
    });
    const served = [
      { handler: closable },
      { handler: closable },
      { handler: () => undefined },
    ] as unknown as ServedCapability[];
    await closeHandlers(served);
    expect(closes).toBe(1);
  });

  it('closes the others when one fails, then reports the failure', async () => {
    let closed = false;
    const served = [
      { handler: Object.assign(() => undefined, { close: () => Promise.reject(new Error('stuck')) }) },
      {
        handler: Object.assign(() => undefined, {
          close: async (): Promise<void> => {
            closed = true;
          },
        }),
      },
    ] as unknown as ServedCapability[];
    const error = await closeHandlers(served).catch((e: unknown) => e);
    expect(closed).toBe(true);
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).message).toBe('closeHandlers: 1 of 2 failed to close');
    expect((error as AggregateError).errors).toEqual([new Error('stuck')]);
  });
});

describe('compileThreadPoolOptions', () => {
  it('fills defaults: the default export, CPUs minus one threads, no queue limit', () => {
    const compiled = compileThreadPoolOptions('/srv/task.js');
    expect(compiled).toMatchObject({
      moduleUrl: 'file:///srv/task.js',
      exportName: 'default',
      idleTimeoutMs: 30_000,
      maxQueue: Infinity,
    });
    expect(compiled.threads).toBeGreaterThanOrEqual(1);
  });

  it('takes a URL or a URL string as the module', () => {
    expect(compileThreadPoolOptions(TASKS).moduleUrl).toBe(TASKS.href);
    expect(compileThreadPoolOptions(TASKS.href).moduleUrl).toBe(TASKS.href);
  });

  it.each([
    [{ threads: 0 }, 'threads: must be an integer of at least 1 (got 0)'],
    [{ threads: 1.5 }, 'threads: must be an integer of at least 1 (got 1.5)'],
    [{ idleTimeoutMs: -1 }, 'idleTimeoutMs: must be a non-negative number (got -1)'],
    [{ maxQueue: -2 }, 'maxQueue: must be a non-negative integer or Infinity (got -2)'],
    [{ exportName: '' }, 'exportName: must be a non-empty string'],
  ])('refuses %j naming the field and the rule', (options, message) => {
    expect(() => compileThreadPoolOptions(TASKS, options)).toThrow(new TypeError(message));
  });

  it('refuses a relative path as the module', () => {
    expect(() => compileThreadPoolOptions('./task.js')).toThrow(
      new TypeError('module: must be a URL or an absolute path (got "./task.js")'),
    );
  });
});
