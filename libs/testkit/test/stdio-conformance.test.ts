import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { defineCapability } from '@crank/capabilities';
import { loadHostConfig } from '@crank/worker-runtime';
import {
  STDIO_CASES,
  runStdioConformance,
  type ConformanceResult,
  type StdioConformanceOptions,
} from '../src/index.js';

const BROKEN = join(import.meta.dirname, 'broken/stdio');
const EXAMPLES = join(import.meta.dirname, '../../../examples/subprocess');

const WORDS = defineCapability({
  id: 'test.words',
  version: '1.0.0',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['text'],
    properties: { text: { type: 'string' } },
  },
  outputSchema: { type: 'object', required: ['words'], properties: { words: { type: 'integer' } } },
  errorCodes: ['INVALID_INPUT'],
});

/** Runs the kit against one of the scripts under test/broken/stdio (or the well-behaved one). */
function check(script: string, options: Partial<StdioConformanceOptions> = {}): Promise<ConformanceResult[]> {
  return runStdioConformance({
    command: [script.endsWith('.mjs') ? process.execPath : 'python3', join(BROKEN, script)],
    cwd: BROKEN,
    env: { PATH: process.env['PATH'] ?? '', PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
    capability: WORDS,
    timeoutMs: 5_000,
    ...options,
  });
}

/** The cases that failed, as [name, reason]. */
const failures = (results: readonly ConformanceResult[]): [string, string | undefined][] =>
  results.filter((r) => r.status === 'failed').map((r) => [r.name, r.reason]);

describe('runStdioConformance', () => {
  it('passes a worker that keeps the protocol, in per-task and in pool mode', async () => {
    const perTask = await check('protocol_worker.py', {
      command: ['python3', join(BROKEN, 'protocol_worker.py'), 'per-task'],
    });
    expect(perTask.map((r) => [r.name, r.status])).toEqual(
      Object.values(STDIO_CASES).map((name) => [name, 'passed']),
    );
    const pool = await check('protocol_worker.py', {
      mode: 'pool',
      command: ['python3', join(BROKEN, 'protocol_worker.py'), 'pool'],
    });
    expect(failures(pool)).toEqual([]);
  });

  it('passes the examples, each with the settings of the sample config', async () => {
    const config = loadHostConfig(join(EXAMPLES, 'crank-host.yaml'));
    for (const worker of config.workers) {
      const results = await runStdioConformance({
        command: [worker.command, ...worker.args],
        cwd: worker.cwd,
        env: worker.env,
        mode: worker.mode,
        capability: worker.capabilities[0],
      });
      expect([worker.name, failures(results)]).toEqual([worker.name, []]);
    }
  });

  it('fails a worker that logs on stdout: not JSON, and not one line per task', async () => {
    expect(failures(await check('stdout-logs.py'))).toEqual([
      [STDIO_CASES.nonJson, '"counting words..." (the valid task) is not JSON'],
      [
        STDIO_CASES.stderrLogs,
        '1 line(s) on stdout besides the answers (logs belong on stderr), the first: "counting words... (the valid task)"',
      ],
    ]);
  });

  it('fails a worker that answers a task without an id', async () => {
    expect(failures(await check('accepts-missing-id.py'))).toEqual([
      [STDIO_CASES.missingId, 'answered "success": true to a task without an id'],
    ]);
  });

  it('fails a worker that answers a task of any type', async () => {
    expect(failures(await check('accepts-unknown-type.py'))).toEqual([
      [STDIO_CASES.unknownType, 'answered "success": true to a task of an unknown type'],
    ]);
  });

  it('fails a worker that crashes on empty params', async () => {
    expect(failures(await check('crashes-on-empty-params.py'))).toEqual([
      [
        STDIO_CASES.emptyParams,
        'no answer on stdout; the process exited with 1 (last stderr line: "KeyError: \'text\'")',
      ],
    ]);
  });

  it('fails a worker that never answers, and kills it', async () => {
    expect(failures(await check('never-answers.py', { timeoutMs: 1_000 }))).toEqual([
      [STDIO_CASES.valid, 'no answer within 1000 ms'],
      [STDIO_CASES.missingId, 'no answer within 1000 ms'],
      [STDIO_CASES.unknownType, 'no answer within 1000 ms'],
      [STDIO_CASES.emptyParams, 'no answer within 1000 ms'],
      [
        STDIO_CASES.timeout,
        'no answer within 1000 ms to: the valid task, the task without an id, the task of an unknown type, the task with empty params',
      ],
    ]);
  });

  it('fails a per-task worker that exits 0 after refusing a task', async () => {
    expect(failures(await check('wrong-exit-code.py'))).toEqual([
      [
        STDIO_CASES.exitCodes,
        'the task without an id: the process exited with 0 after answering "success": false; expected 2 (0 success, 1 retriable failure, 2 permanent failure)',
      ],
    ]);
  });

  it('fails a pool worker that exits after one task', async () => {
    const results = await check('exits-after-one-task.py', { mode: 'pool' });
    // The task sent after the first answer finds the process gone: it is lost, as under crank-host.
    expect(failures(results)).toContainEqual([
      STDIO_CASES.exitCodes,
      expect.stringMatching(
        /^the process exited with 0 .*before answering the task without an id: a pool process keeps reading tasks until its stdin closes$/,
      ),
    ]);
    expect(results.find((r) => r.name === STDIO_CASES.valid)?.status).toBe('passed');
  });

  it('fails a pool worker that answers only when its stdin closes', async () => {
    const results = await check('answers-on-eof.mjs', { mode: 'pool', timeoutMs: 1_000 });
    expect(failures(results)).toContainEqual([
      STDIO_CASES.timeout,
      'no answer within 1000 ms to: the valid task, the task without an id, the task of an unknown type, the task with empty params (a pool process answers each line while its stdin stays open: flush stdout after each answer)',
    ]);
  });

  it('without a task type, skips the cases that need one and runs the others', async () => {
    const results = await runStdioConformance({
      command: ['python3', join(BROKEN, 'protocol_worker.py')],
      env: { PATH: process.env['PATH'] ?? '', PYTHONDONTWRITEBYTECODE: '1' },
    });
    expect(results.filter((r) => r.status !== 'passed').map((r) => [r.name, r.status])).toEqual([
      [STDIO_CASES.valid, 'skipped'],
      [STDIO_CASES.emptyParams, 'skipped'],
    ]);
  });
});
