import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CrankHost, loadHostConfig, parseHostConfig } from '@crank/worker-runtime';
import { pino } from 'pino';
import {
  CANCELLATION_CASE,
  CONCURRENCY_CASE,
  DEADLINE_CASE,
  GENERATED_CASE,
  HEALTH_CASE,
  runConformance,
  runGrpcConformance,
  startTestCluster,
  type ConformanceResult,
  type TestCluster,
} from '../src/index.js';
import {
  NEVER_READY,
  NOT_REENTRANT,
  UNDECLARED_ERROR,
  WRONG_OUTPUT,
  neverReady,
  notReentrant,
  undeclaredError,
  wrongOutput,
} from './broken/grpc-workers.js';
import { WAIT_POLITELY, stubborn, waitPolitely } from './fixtures.js';

const EXAMPLES = join(import.meta.dirname, '../../../examples/subprocess');
const BROKEN_STDIO = join(import.meta.dirname, 'broken/stdio');

const byName = (results: readonly ConformanceResult[], name: string): ConformanceResult | undefined =>
  results.find((r) => r.name === name || r.name.endsWith(`: ${name}`));
const failures = (results: readonly ConformanceResult[]): [string, string | undefined][] =>
  results.filter((r) => r.status === 'failed').map((r) => [r.name, r.reason]);

describe('the grpc conformance cases', () => {
  let cluster: TestCluster;
  const slow = stubborn();

  beforeAll(async () => {
    cluster = await startTestCluster({
      worker: {
        name: 'grpc-cases',
        capabilities: [waitPolitely, slow.served, wrongOutput, undeclaredError, neverReady, notReentrant],
      },
    });
  });

  afterAll(async () => {
    slow.release();
    await cluster?.close();
  });

  it('pass a worker that keeps the contract, with a slow input for the deadline, concurrency and cancellation', async () => {
    const results = await runConformance({
      cluster,
      capability: WAIT_POLITELY,
      cases: [{ name: 'waits', input: { ms: 1 } }],
      slowInput: { ms: 1_500 },
    });
    expect(failures(results)).toEqual([]);
    expect(results.filter((r) => r.status === 'skipped')).toEqual([]);
    expect(byName(results, CONCURRENCY_CASE)?.note).toBe('4 calls at once');
  });

  it('fail a worker whose output breaks its schema', async () => {
    const results = await runConformance({ cluster, capability: WRONG_OUTPUT });
    expect(byName(results, GENERATED_CASE)?.reason).toMatch(
      /^call failed with CONTRACT_VIOLATION: output of broken\.wrong-output@1\.0\.0 breaks its schema: .*\(sent \{"text":".*"\}\)$/,
    );
  });

  it('fail a worker that fails with an undeclared code', async () => {
    const results = await runConformance({ cluster, capability: UNDECLARED_ERROR });
    expect(byName(results, GENERATED_CASE)?.reason).toMatch(
      /^call failed with CONTRACT_VIOLATION: handler of broken\.undeclared-error@1\.0\.0 failed with UNSUPPORTED_FORMAT, which the capability does not declare/,
    );
  });

  it('fail a worker whose capability never turns SERVING', async () => {
    const results = await runConformance({ cluster, capability: NEVER_READY, generateInput: false });
    expect(byName(results, HEALTH_CASE)?.reason).toMatch(
      /^service "broken\.never-ready" answered NOT_SERVING at 127\.0\.0\.1:\d+$/,
    );
  });

  it('fail a worker that cannot take the calls it declares at once', async () => {
    const results = await runConformance({
      cluster,
      capability: NOT_REENTRANT,
      // A generated input would wait up to a minute: ms is required and goes to 60000.
      generateInput: false,
      slowInput: { ms: 1_000 },
    });
    expect(byName(results, CONCURRENCY_CASE)?.reason).toBe(
      '3 of 4 calls sent at once failed: 3 x INTERNAL (already working on another call)',
    );
  });

  it('fail a handler that runs on past the deadline', async () => {
    const results = await runConformance({
      cluster,
      capability: slow.capability,
      slowInput: { ms: 1_000 },
      generateInput: false,
      concurrency: 0,
      cancellation: undefined,
    });
    expect(byName(results, DEADLINE_CASE)?.reason).toMatch(
      /^3000 ms after the deadline, the handler ignored ctx\.signal: still running \d+ ms after the call was cancelled$/,
    );
    expect(byName(results, CANCELLATION_CASE)?.status).toBe('failed');
  });
});

describe('crank-host under the conformance kit', () => {
  let cluster: TestCluster;
  let host: CrankHost;

  beforeAll(async () => {
    cluster = await startTestCluster();
    const examples = loadHostConfig(join(EXAMPLES, 'crank-host.yaml'));
    const broken = parseHostConfig(
      `
workers:
  - name: never-answers
    command: python3
    args: [never-answers.py]
    timeoutMs: 500
    capabilities:
      - { id: broken.never, version: 1.0.0, inputSchema: { type: object }, outputSchema: { type: object } }
  - name: stdout-logs
    command: python3
    args: [stdout-logs.py]
    capabilities:
      - { id: test.words, version: 1.0.0, inputSchema: { type: object }, outputSchema: { type: object } }
`,
      join(BROKEN_STDIO, 'broken-host.yaml'),
      { baseDir: BROKEN_STDIO },
    );
    host = await CrankHost.create(
      { file: 'test', workers: [...examples.workers, ...broken.workers] },
      {
        worker: {
          controllerUrl: cluster.grpcAddress,
          dataDir: cluster.dataDir,
          caFile: join(cluster.dataDir, 'ca.crt'),
          bootstrapToken: readFileSync(join(cluster.dataDir, 'bootstrap-token'), 'utf8').trim(),
          heartbeatIntervalMs: 200,
          drainTimeoutMs: 1_000,
        },
        logger: pino({ level: 'silent' }),
      },
      {},
    );
    await host.start();
  });

  afterAll(async () => {
    await host?.stop();
    await cluster?.close();
  });

  it('serves the examples, which pass every grpc case', async () => {
    for (const worker of host.workers.slice(0, 2)) {
      const results = await runGrpcConformance({
        client: cluster.client,
        identity: cluster.identity,
        workerId: worker.id,
        workerHttpUrl: worker.httpUrl,
      });
      expect([worker.id, failures(results)]).toEqual([worker.id, []]);
    }
  });

  it("answers a worker's failures with typed errors, and keeps serving", async () => {
    await expect(cluster.client.invoke('broken.never', {})).rejects.toMatchObject({
      code: 'DEADLINE_EXCEEDED',
      message:
        'worker "never-answers" did not answer within timeoutMs (500 ms); its process group was killed',
    });
    await expect(cluster.client.invoke('test.words', { text: 'a b' })).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining('worker "stdout-logs" wrote 2 lines on stdout'),
    });
    const { output } = await cluster.client.invoke('text.slugify', { text: 'Still Here' });
    expect(output).toEqual({ slug: 'still-here' });
  });
});
