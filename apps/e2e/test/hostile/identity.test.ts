// Hostile identity: stolen worker ids, malformed and guessed enrollments, against a real controller
// process and real echo worker processes. Every new endpoint adds its hostile cases here: who may
// call it, and what a caller who is not that gets (and what the controller logs about it).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  channelCredentials,
  controllerChannelOptions,
  createKeyAndCsr,
  enroll,
  errorFromServiceError,
} from '@crank/controller-client';
import { ControllerClient, EnrollRequest, IdentityKind } from '@crank/proto';
import { Cluster, ECHO_MAIN, eventually, type LogLine, type RunningProcess } from '../harness.js';

/** Calls the worker process has finished, by its own count. */
async function completedBy(httpUrl: string): Promise<number> {
  return ((await (await fetch(`${httpUrl}/health`)).json()) as { completed: number }).completed;
}

describe('worker ids belong to the key that registered them', () => {
  let cluster: Cluster;
  let caPem: string;
  let token: string;

  beforeAll(async () => {
    // A 10 s heartbeat: the controller would evict a silent worker only after 30 s, so anything
    // faster than that below is the controller acting on purpose.
    cluster = await Cluster.start({ heartbeatMs: 10_000 });
    caPem = await readFile(join(cluster.dataDir, 'ca.crt'), 'utf8');
    token = (await readFile(join(cluster.dataDir, 'bootstrap-token'), 'utf8')).trim();
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('refuses a second live process claiming a worker id (ALREADY_EXISTS); the first keeps every call', async () => {
    const victim = await cluster.startEcho({ CRANK_WORKER_ID: 'echo-victim' });
    const victimStarted = await victim.proc.event('worker_started');
    const impostor = cluster.spawn('impostor', ECHO_MAIN, {
      CRANK_WORKER_ID: 'echo-victim',
      CRANK_DRAIN_MS: '10000',
    });
    const held = await impostor.event('worker_id_held');
    expect(String(held['reason'])).toContain('registered by a live worker with another key');
    await cluster.controller.waitFor(
      (l) => l.event === 'worker_id_conflict' && l['workerId'] === 'echo-victim',
    );
    const impostorStarted = await impostor.event('worker_started');

    const client = await cluster.client();
    const before = await completedBy(String(victimStarted['http']));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.invoke('debug.echo', { message: `mine-${i}` })),
    );
    expect(results.every((r) => r.workerId === 'echo-victim')).toBe(true);
    // Same id in both processes: which one served is told by their own counts.
    expect(await completedBy(String(victimStarted['http']))).toBe(before + 20);
    expect(await completedBy(String(impostorStarted['http']))).toBe(0);
    const listed = (await client.workers()).filter((w) => w.id === 'echo-victim');
    expect(listed.map((w) => w.address)).toEqual([String(victimStarted['grpc'])]);
    impostor.kill('SIGKILL');
    await impostor.exited;
  });

  it.each([
    ['unspecified (0)', IdentityKind.IDENTITY_KIND_UNSPECIFIED],
    ['unknown (99)', 99 as IdentityKind],
  ])('refuses an enrollment of kind %s with the right token as INVALID_INPUT', async (_name, kind) => {
    const { csrPem } = await createKeyAndCsr('odd-kind');
    const anonymous = new ControllerClient(
      cluster.grpcAddress,
      channelCredentials(caPem),
      controllerChannelOptions(),
    );
    try {
      const refused = new Promise((resolve, reject) =>
        anonymous.enroll(
          EnrollRequest.fromPartial({ csrPem, bootstrapToken: token, kind }),
          new Metadata(),
          { deadline: Date.now() + 10_000 },
          (error: ServiceError | null, res) => (error ? reject(errorFromServiceError(error)) : resolve(res)),
        ),
      );
      await expect(refused).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/^kind: /),
      });
    } finally {
      anonymous.close();
    }
  });

  it('gives a SIGKILLed worker its id back at once when it restarts, rather than after the eviction delay', async () => {
    const first = await cluster.startEcho({ CRANK_WORKER_ID: 'echo-phoenix' });
    first.proc.kill('SIGKILL');
    await first.proc.exited;

    const restartedAt = Date.now();
    const second: { proc: RunningProcess; id: string } = await cluster.startEcho({
      CRANK_WORKER_ID: 'echo-phoenix',
    });
    const tookMs = Date.now() - restartedAt;
    expect(second.id).toBe('echo-phoenix');
    // Registered on its first try: the controller probed the dead holder and evicted it.
    expect(second.proc.lines.some((l) => l.event === 'worker_id_held')).toBe(false);
    const evicted = await cluster.controller.waitFor(
      (l) => l.event === 'worker_evicted' && l['workerId'] === 'echo-phoenix',
    );
    expect(String(evicted['reason'])).toContain('health check');
    // Well inside the 30 s the eviction delay would have taken (a process start included).
    expect(tookMs).toBeLessThan(15_000);

    const started = await second.proc.event('worker_started');
    const client = await cluster.client();
    expect((await client.workers()).find((w) => w.id === 'echo-phoenix')).toMatchObject({
      address: String(started['grpc']),
      state: 'ready',
    });
    const before = await completedBy(String(started['http']));
    await client.invoke('debug.echo', { message: 'reborn' });
    await eventually(async () => (await completedBy(String(started['http']))) >= before + 1, 5_000);
  }, 60_000);
});

describe('guessing the bootstrap token', () => {
  let cluster: Cluster;
  let caPem: string;

  beforeAll(async () => {
    cluster = await Cluster.start();
    caPem = await readFile(join(cluster.dataDir, 'ca.crt'), 'utf8');
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('refuses 50 wrong tokens as UNAUTHENTICATED, slows later attempts, and logs them rate-limited with counts', async () => {
    /** One enrollment with a wrong token; resolves with how long it took to be refused. */
    const guess = async (i: number): Promise<number> => {
      const started = Date.now();
      await expect(
        enroll({
          address: cluster.grpcAddress,
          caPem,
          identity: `guess-${i}`,
          kind: 'worker',
          bootstrapToken: `wrong-${i}`,
          timeoutMs: 20_000,
        }),
      ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
      return Date.now() - started;
    };

    const firstMs = await guess(1);
    await Promise.all(Array.from({ length: 47 }, (_, i) => guess(i + 2)));
    await guess(49);
    const lastMs = await guess(50);
    // After 49 failures the next attempt waits the longest delay (5 s): a lower bound, so it holds
    // on a loaded machine too.
    expect(lastMs - firstMs).toBeGreaterThan(2_000);

    // One line for the first failure; the next once 10 s have passed (the 50th attempt, held back
    // by two 5 s delays), counting the failures since: fewer lines than attempts, none lost.
    await cluster.controller.waitFor(
      (l) => l.event === 'enroll_refused' && typeof l['failures'] === 'number' && l['failures'] > 1,
    );
    const lines = cluster.controller.lines.filter((l: LogLine) => l.event === 'enroll_refused');
    const counts = lines.map((l) => l['failures'] as number);
    expect(counts[0]).toBe(1);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(3);
    // The last attempt or two may fall in the current 10 s window, not logged yet.
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(48);
    expect(counts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(50);
    for (const line of lines) {
      expect(line).toMatchObject({ peer: '127.0.0.1', reason: expect.stringContaining('bootstrap_token') });
    }
  }, 60_000);
});
