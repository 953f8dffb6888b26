import { afterEach, describe, expect, it } from '@jest/globals';
import { defineCapability } from '@crank/capabilities';
import { CrankWorker, serve } from '@crank/worker-runtime';
import { pino } from 'pino';
import { CONTROLLER_MAIN, Cluster, eventually, freePort, type RunningProcess } from './harness.js';
import { PG_URL, dropSchema, uniqueSchema } from './postgres.js';

/** Offered only by the worker of the second controller. */
const REMOTE = defineCapability<{ n: number }, { n: number; workerId: string }>({
  id: 'test.remote',
  version: '1.0.0',
  inputSchema: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
  outputSchema: { type: 'object', required: ['n', 'workerId'] },
  resources: { maxConcurrency: 8 },
});

/**
 * Several controllers on one PostgreSQL store, as on Kubernetes (one per node): they share a CA
 * (one data dir here, one Secret there), the job store and a view of each other's workers.
 */
describe('controllers sharing one PostgreSQL store', () => {
  const schema = uniqueSchema('cluster');
  let cluster: Cluster | undefined;
  const workers: CrankWorker[] = [];
  const executions = new Map<string, number>();

  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop();
    await cluster?.close();
    await dropSchema(schema);
  });

  /** The second controller: same data dir (CA and token), same store, other ports. */
  async function startSecond(first: Cluster): Promise<{ proc: RunningProcess; grpc: string }> {
    const grpc = `127.0.0.1:${await freePort()}`;
    const proc = first.spawn('controller-b', CONTROLLER_MAIN, {
      CRANK_GRPC_ADDR: grpc,
      CRANK_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
    });
    await proc.event('cluster_joined');
    return { proc, grpc };
  }

  async function startRemoteWorker(first: Cluster, urls: string[]): Promise<CrankWorker> {
    const worker = await CrankWorker.create({
      name: 'remote',
      controllerUrls: urls,
      dataDir: first.dataDir,
      heartbeatIntervalMs: 300,
      logger: pino({ level: 'silent' }),
      capabilities: [
        serve(REMOTE, (input, ctx) => {
          const id = ctx.jobId ?? ctx.requestId;
          executions.set(id, (executions.get(id) ?? 0) + 1);
          return { n: input.n, workerId: ctx.workerId };
        }),
      ],
    });
    await worker.start();
    workers.push(worker);
    return worker;
  }

  it('routes a call to the controller that has the worker, runs jobs once, and fails over', async () => {
    cluster = await Cluster.start({
      heartbeatMs: 300,
      env: { CRANK_DB_URL: PG_URL, CRANK_DB_SCHEMA: schema },
    });
    await cluster.controller.event('cluster_joined');
    const second = await startSecond(cluster);
    const local = await cluster.startEcho();
    const remote = await startRemoteWorker(cluster, [second.grpc, cluster.grpcAddress]);
    const client = await cluster.client();

    // A call for a capability only the second controller's worker offers, sent to the first.
    await eventually(async () => {
      const answer = await client.invoke(REMOTE.id, { n: 1 }).catch(() => undefined);
      return answer?.workerId === remote.id;
    }, 15_000);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, n) => client.invoke(REMOTE.id, { n })));
    expect(new Set(answers.map((a) => a.workerId))).toEqual(new Set([remote.id]));
    // Its own worker still serves what it offers.
    expect((await client.invoke('debug.echo', { message: 'here' })).workerId).toBe(local.id);

    // Jobs submitted at the first controller run on the second's worker, each once.
    const jobs = await Promise.all(
      Array.from({ length: 50 }, (_, n) => client.jobs.submit(REMOTE.id, { n })),
    );
    for (const job of jobs) {
      expect(await client.jobs.wait(job.id, { timeoutMs: 30_000 })).toMatchObject({
        state: 'completed',
        workerId: remote.id,
      });
    }
    expect(jobs.filter((job) => executions.get(job.id) !== 1)).toEqual([]);

    // The second controller dies: its worker registers with the first, which now serves the call.
    second.proc.kill('SIGKILL');
    await second.proc.exited;
    await eventually(
      async () => (await client.workers()).some((w) => w.id === remote.id && w.state !== 'gone'),
      20_000,
    );
    const after = await client.invoke(REMOTE.id, { n: 99 }, { timeoutMs: 5_000 });
    expect(after).toMatchObject({ output: { n: 99 }, workerId: remote.id });
  }, 90_000);
});
