import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEBUG_ECHO } from '@crank/capabilities';
import {
  CANCELLATION_CASE,
  CONCURRENCY_CASE,
  DEADLINE_CASE,
  HEALTH_CASE,
  NOT_FOUND_CASE,
  SCHEMA_CASE,
  assertConformance,
  runConformance,
  startTestCluster,
  type ConformanceResult,
  type TestCluster,
} from '../src/index.js';
import {
  LENIENT,
  REVERSE,
  SHOUT,
  WAIT_POLITELY,
  WORDS,
  lenient,
  reverse,
  shout,
  stubborn,
  waitPolitely,
  words,
} from './fixtures.js';

const byName = (results: readonly ConformanceResult[], name: string): ConformanceResult | undefined =>
  results.find((r) => r.name === name);

describe('runConformance against a worker started by startTestCluster', () => {
  let cluster: TestCluster;
  const slow = stubborn();

  beforeAll(async () => {
    cluster = await startTestCluster({
      worker: {
        name: 'conformance',
        capabilities: [reverse, waitPolitely, slow.served, lenient, words, shout],
      },
    });
  });

  afterAll(async () => {
    slow.release();
    await cluster?.close();
  });

  it('passes a worker that keeps the contract, every case naming the worker under test', async () => {
    const results = await runConformance({
      cluster,
      capability: REVERSE,
      cases: [
        {
          name: 'reverses',
          input: { text: 'abc' },
          check: (output) => expect(output).toEqual({ text: 'cba' }),
        },
        { name: 'refuses empty text', input: { text: '' }, expectError: 'INVALID_INPUT' },
      ],
    });
    assertConformance(results);
    expect(results.map((r) => [r.name, r.status])).toEqual([
      ['reverses', 'passed'],
      ['refuses empty text', 'passed'],
      [SCHEMA_CASE, 'passed'],
      [HEALTH_CASE, 'passed'],
      [NOT_FOUND_CASE, 'passed'],
      [DEADLINE_CASE, 'skipped'],
      [CONCURRENCY_CASE, 'passed'],
      [CANCELLATION_CASE, 'skipped'],
    ]);
    expect(results[0]?.workerId).toBe(cluster.worker.id);
  });

  it('reports an error thrown by the case check as "check failed", apart from call failures', async () => {
    const results = await runConformance({
      cluster,
      capability: REVERSE,
      cases: [
        {
          name: 'wrong expectation',
          input: { text: 'abc' },
          check: () => {
            throw new Error('expected "abc" back');
          },
        },
        { name: 'fails as a call', input: { text: '' } },
        { name: 'expects an error', input: { text: 'abc' }, expectError: 'INVALID_INPUT' },
      ],
    });
    expect(byName(results, 'wrong expectation')).toMatchObject({
      status: 'failed',
      passed: false,
      reason: 'check failed: expected "abc" back',
      workerId: cluster.worker.id,
    });
    expect(byName(results, 'fails as a call')).toMatchObject({
      status: 'failed',
      reason: 'call failed with INVALID_INPUT: text: must not be empty',
    });
    expect(byName(results, 'expects an error')).toMatchObject({
      status: 'failed',
      reason: 'expected INVALID_INPUT, got success',
    });
    expect(() => assertConformance(results)).toThrow(
      /^conformance failed:\n- wrong expectation: check failed: expected "abc" back\n- fails as a call: call failed with INVALID_INPUT/,
    );
  });

  it('fails every answer that does not come from the expected worker', async () => {
    const results = await runConformance({
      cluster,
      workerId: 'someone-else',
      capability: REVERSE,
      cases: [{ name: 'reverses', input: { text: 'abc' } }],
    });
    expect(byName(results, 'reverses')).toMatchObject({
      status: 'failed',
      reason: `answered by worker "${cluster.worker.id}", not by the worker under test "someone-else"`,
    });
  });

  it('skips the schema case for a schema that accepts anything, rather than passing it', async () => {
    const results = await runConformance({
      cluster,
      capability: LENIENT,
      cases: [{ name: 'takes anything', input: { whatever: [1, 2] } }],
    });
    expect(byName(results, SCHEMA_CASE)).toMatchObject({
      status: 'skipped',
      passed: false,
      reason: expect.stringContaining('accepts every input tried'),
    });
    expect(() => assertConformance(results)).not.toThrow();
    expect(() => assertConformance(results, { failOnSkipped: true })).toThrow(
      `- ${SCHEMA_CASE}: skipped: the input schema accepts every input tried`,
    );
  });

  it('passes the cancellation case for a handler that stops on ctx.signal', async () => {
    const results = await runConformance({
      cluster,
      capability: WAIT_POLITELY,
      cases: [{ name: 'waits', input: { ms: 1 } }],
      cancellation: { input: { ms: 30_000 } },
    });
    assertConformance(results);
    expect(byName(results, CANCELLATION_CASE)).toMatchObject({
      status: 'passed',
      workerId: cluster.worker.id,
    });
  });

  it('fails the cancellation case for a handler that ignores ctx.signal', async () => {
    const results = await runConformance({
      cluster,
      capability: slow.capability,
      generateInput: false,
      cancellation: { input: { ms: 30_000 }, settleTimeoutMs: 500 },
    });
    const result = byName(results, CANCELLATION_CASE);
    expect(result?.status).toBe('failed');
    expect(result?.reason).toMatch(
      /^500 ms after the cancel, .*the handler ignored ctx\.signal: still running \d+ ms after the call was cancelled$/,
    );
  });

  it('fails the cancellation case when the worker still counts the call in flight', async () => {
    // A hand-written /health of a worker that keeps the slot: free before the call, taken after.
    let asked = 0;
    const health = createServer((_req, res) => {
      const inFlight = asked++ === 0 ? 0 : 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ capabilities: [{ id: WAIT_POLITELY.id, version: '1.0.0', inFlight }] }));
    });
    await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
    try {
      const results = await runConformance({
        cluster,
        workerHttpUrl: `http://127.0.0.1:${(health.address() as AddressInfo).port}`,
        capability: WAIT_POLITELY,
        generateInput: false,
        concurrency: 0,
        cancellation: { input: { ms: 30_000 }, settleTimeoutMs: 500 },
      });
      const result = byName(results, CANCELLATION_CASE);
      expect(result?.status).toBe('failed');
      expect(result?.reason).toMatch(/^500 ms after the cancel, /);
      expect(result?.reason).toContain(
        `worker "${cluster.worker.id}" still reports 1 call(s) in flight on its /health: it kept the slot`,
      );
    } finally {
      await close(health);
    }
  });

  it('fails the cancellation case when the call ends before it could be cancelled', async () => {
    const results = await runConformance({
      cluster,
      capability: REVERSE,
      cancellation: { input: { text: 'quick' }, startTimeoutMs: 1_000 },
    });
    // Seen finished at the client, or at the worker before the cancel reached it.
    expect(byName(results, CANCELLATION_CASE)?.reason).toMatch(
      /^the (call completed before it could be cancelled|handler finished before the cancel reached it); give `cancellation.input` an input/,
    );
  });

  it('runs stream cases through invokeStream, counting and checking the records', async () => {
    const results = await runConformance({
      cluster,
      capability: WORDS,
      streamCases: [
        {
          name: 'one record per word',
          records: [{ text: 'a b c' }],
          expectRecords: 3,
          check: (records) => expect(records).toEqual([{ text: 'a' }, { text: 'b' }, { text: 'c' }]),
        },
        { name: 'miscounted', records: [{ text: 'a b' }], expectRecords: 3 },
        {
          name: 'check fails',
          records: [{ text: 'a' }],
          check: () => {
            throw new Error('no');
          },
        },
      ],
    });
    expect(results.map((r) => [r.name, r.status, r.reason])).toEqual([
      ['one record per word', 'passed', undefined],
      ['miscounted', 'failed', 'expected 3 output records, got 2'],
      ['check fails', 'failed', 'check failed: no'],
      [SCHEMA_CASE, 'passed', undefined],
      [HEALTH_CASE, 'passed', undefined],
      [NOT_FOUND_CASE, 'passed', undefined],
      [DEADLINE_CASE, 'skipped', 'no `slowInput` given (an input the handler works on for a second or more)'],
      [CONCURRENCY_CASE, 'passed', undefined],
      [CANCELLATION_CASE, 'skipped', 'no `cancellation` input given'],
    ]);
  });

  it('checks a bidi stream, whose schema-breaking record is refused with INVALID_INPUT', async () => {
    async function* records(): AsyncGenerator<{ text: string }> {
      yield { text: 'a' };
      yield { text: 'b' };
    }
    const results = await runConformance({
      cluster,
      capability: SHOUT,
      streamCases: [
        { name: 'shouts', records: [{ text: 'hi' }, { text: 'there' }], expectRecords: 2 },
        {
          name: 'async input',
          records: records(),
          check: (out) => expect(out).toEqual([{ text: 'A' }, { text: 'B' }]),
        },
      ],
    });
    assertConformance(results);
    expect(byName(results, SCHEMA_CASE)?.status).toBe('passed');
  });

  it('refuses a unary case for a streaming capability, and a stream case for a unary one', async () => {
    const results = await runConformance({
      cluster,
      capability: WORDS,
      cases: [{ name: 'unary', input: { text: 'a' } }],
    });
    expect(byName(results, 'unary')?.reason).toBe(
      'test.words streams (output): give this case in streamCases, with records',
    );
  });
});

describe('runConformance with a client alone (a worker running elsewhere)', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster({ capabilities: [reverse] });
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('runs the cases through that client', async () => {
    const results = await runConformance({
      client: cluster.client,
      capability: REVERSE,
      cases: [
        { name: 'reverses', input: { text: 'ab' }, check: (out) => expect(out).toEqual({ text: 'ba' }) },
      ],
    });
    assertConformance(results);
    expect(results[0]?.workerId).toBe(cluster.worker.id);
  });

  it('reports a catalog capability no worker serves as a failed call', async () => {
    const results = await runConformance({
      client: cluster.client,
      capability: DEBUG_ECHO,
      cases: [{ name: 'echo', input: { message: 'hi' } }],
    });
    expect(byName(results, 'echo')?.reason).toMatch(/^call failed with UNAVAILABLE: /);
  });

  it('needs a client or a cluster', async () => {
    await expect(runConformance({ capability: REVERSE })).rejects.toThrow(
      'client: give a client, or a cluster from startTestCluster',
    );
  });
});

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
