import { afterEach, describe, expect, it } from '@jest/globals';
import { defineCapability } from '@crank/capabilities';
import type { CrankClient, JobInfo } from '@crank/controller-client';
import { CrankWorker, serve } from '@crank/worker-runtime';
import { pino } from 'pino';
import { Cluster, eventually } from './harness.js';
import { PG_URL, dropSchema, uniqueSchema } from './postgres.js';

/** Answers after `delayMs`; each execution is recorded by the test, which the controller cannot see. */
const WORK = defineCapability<{ n: number; delayMs: number }, { n: number }>({
  id: 'test.work',
  version: '1.0.0',
  inputSchema: { type: 'object', required: ['n', 'delayMs'] },
  outputSchema: { type: 'object', required: ['n'] },
  resources: { maxConcurrency: 16 },
});

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'dead_letter']);

/** Executions per job id, across every worker of the test. */
type Ledger = Map<string, number>;

async function startWorker(
  controllerUrl: string,
  dataDir: string,
  name: string,
  ledger: Ledger,
): Promise<CrankWorker> {
  const worker = await CrankWorker.create({
    name,
    controllerUrl,
    dataDir,
    heartbeatIntervalMs: 300,
    logger: pino({ level: 'silent' }),
    capabilities: [
      serve(WORK, async (input, ctx) => {
        const id = ctx.jobId ?? ctx.requestId;
        ledger.set(id, (ledger.get(id) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, input.delayMs));
        return { n: input.n };
      }),
    ],
  });
  await worker.start();
  return worker;
}

async function allJobs(client: CrankClient): Promise<JobInfo[]> {
  const jobs: JobInfo[] = [];
  for await (const job of client.jobs.listAll({ capability: WORK.id, pageSize: 500 })) jobs.push(job);
  return jobs;
}

async function submitAll(client: CrankClient, count: number, delayMs: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - start) }, (_, i) =>
        client.jobs.submit(WORK.id, { n: start + i, delayMs }, { timeoutMs: 2_000, backoffMs: 50 }),
      ),
    );
    ids.push(...batch.map((job) => job.id));
  }
  return ids;
}

describe.each([
  ['SQLite', () => ({ env: {}, cleanup: async () => undefined })],
  [
    'PostgreSQL',
    () => {
      const schema = uniqueSchema('crash');
      return { env: { CRANK_DB_URL: PG_URL, CRANK_DB_SCHEMA: schema }, cleanup: () => dropSchema(schema) };
    },
  ],
] as const)('jobs survive a controller crash on %s', (_store, makeStore) => {
  let cluster: Cluster | undefined;
  const workers: CrankWorker[] = [];
  const store = makeStore();

  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop();
    await cluster?.close();
    await store.cleanup();
  });

  it('loses no job of 500 when the controller is SIGKILLed mid-way and started again on the same store', async () => {
    cluster = await Cluster.start({
      heartbeatMs: 300,
      env: { ...store.env, CRANK_JOB_LEASE_GRACE_MS: '500' },
    });
    const ledger: Ledger = new Map();
    for (const name of ['crash-a', 'crash-b']) {
      workers.push(await startWorker(cluster.grpcAddress, cluster.dataDir, name, ledger));
    }
    let client = await cluster.client();
    const ids = await submitAll(client, 500, 30);

    await eventually(async () => [...ledger.values()].length >= 150, 60_000, 20);
    cluster.controller.kill('SIGKILL');
    await cluster.controller.exited;
    await cluster.startController();
    client = await cluster.client('after-crash');

    await eventually(
      async () => (await allJobs(client)).every((job) => TERMINAL.has(job.state)),
      120_000,
      250,
    );
    const jobs = await allJobs(client);
    // Nothing submitted is lost, and every job ran to its end.
    expect(jobs.map((job) => job.id).sort()).toEqual([...ids].sort());
    expect(jobs.filter((job) => job.state !== 'completed').map((job) => [job.id, job.state])).toEqual([]);
    expect(ids.filter((id) => (ledger.get(id) ?? 0) === 0)).toEqual([]);

    // A job ran twice only when its lease expired while it ran (the controller died holding it).
    const twice = ids.filter((id) => (ledger.get(id) ?? 0) > 1);
    for (const id of twice) {
      const history = (await client.jobs.get(id)).history ?? [];
      expect(history.some((h) => h.error?.message.includes('lease expired'))).toBe(true);
    }
    process.stdout.write(`crash test: ${twice.length} of 500 jobs ran twice, each after its lease expired\n`);
  }, 240_000);
});

describe('jobs on PostgreSQL with two controllers', () => {
  const schema = uniqueSchema('two');
  const clusters: Cluster[] = [];
  const workers: CrankWorker[] = [];

  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop();
    for (const cluster of clusters.splice(0)) await cluster.close();
    await dropSchema(schema);
  });

  it('hands each of 1,000 jobs to one worker only, whichever controller dispatches it', async () => {
    const env = { CRANK_DB_URL: PG_URL, CRANK_DB_SCHEMA: schema };
    const ledger: Ledger = new Map();
    const byWorker = new Map<string, number>();
    for (const name of ['node-a', 'node-b']) {
      const cluster = await Cluster.start({ heartbeatMs: 300, env });
      clusters.push(cluster);
      const worker = await startWorker(cluster.grpcAddress, cluster.dataDir, `${name}-worker`, ledger);
      workers.push(worker);
    }
    const [first, second] = await Promise.all(clusters.map((c) => c.client()));
    if (!first || !second) throw new Error('two controllers expected');
    const ids = [...(await submitAll(first, 500, 5)), ...(await submitAll(second, 500, 5))];
    await eventually(
      async () => (await allJobs(first)).every((job) => job.state === 'completed'),
      120_000,
      250,
    );
    for (const job of await allJobs(second))
      byWorker.set(job.workerId, (byWorker.get(job.workerId) ?? 0) + 1);
    expect(ids.filter((id) => ledger.get(id) !== 1)).toEqual([]);
    // Both controllers dispatched (each to its node's worker).
    expect([...byWorker.keys()].sort()).toEqual(workers.map((w) => w.id).sort());
  }, 240_000);
});
