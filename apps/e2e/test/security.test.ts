import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEBUG_ECHO, defineCapability } from '@crank/capabilities';
import {
  CrankClient,
  callerIdentity,
  channelCredentials,
  controllerChannelOptions,
  controllerLocation,
  enroll,
  errorFromServiceError,
} from '@crank/controller-client';
import { ControllerClient, DeregisterRequest, HeartbeatRequest } from '@crank/proto';
import { serve, startWorker, type CrankWorker } from '@crank/worker-runtime';
import { pino, type Logger } from 'pino';
import { Cluster } from './harness.js';

function rawCall<T>(start: (cb: (error: ServiceError | null, res: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    start((error, res) => (error ? reject(errorFromServiceError(error)) : resolve(res))),
  );
}

describe('mTLS and identity rules', () => {
  let cluster: Cluster;
  let other: Cluster;
  let workerId: string;
  let caPem: string;
  let token: string;

  beforeAll(async () => {
    [cluster, other] = await Promise.all([Cluster.start(), Cluster.start()]);
    workerId = (await cluster.startEcho()).id;
    caPem = await readFile(join(cluster.dataDir, 'ca.crt'), 'utf8');
    token = (await readFile(join(cluster.dataDir, 'bootstrap-token'), 'utf8')).trim();
  }, 60_000);

  afterAll(async () => {
    await Promise.all([cluster?.close(), other?.close()]);
  });

  it('refuses a client certificate from another CA during the TLS handshake', async () => {
    const foreign = await callerIdentity(
      controllerLocation({ address: other.grpcAddress, dataDir: other.dataDir }),
      'foreign',
    );
    // Trusts our controller's CA, so only the client certificate can be at fault.
    const client = CrankClient.create(cluster.grpcAddress, { ...foreign, caPem });
    try {
      await expect(client.capabilities()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      await cluster.controller.event('tls_refused', 5_000);
    } finally {
      client.close();
    }
  });

  it('answers UNAUTHENTICATED to a call without a client certificate', async () => {
    const anonymous = new ControllerClient(
      cluster.grpcAddress,
      channelCredentials(caPem),
      controllerChannelOptions(),
    );
    try {
      await expect(rawCall((cb) => anonymous.listCapabilities({}, new Metadata(), cb))).rejects.toMatchObject(
        {
          code: 'UNAUTHENTICATED',
        },
      );
    } finally {
      anonymous.close();
    }
  });

  it('refuses enrollment with a wrong bootstrap token', async () => {
    await expect(
      enroll({
        address: cluster.grpcAddress,
        caPem,
        identity: 'sneaky',
        kind: 'worker',
        bootstrapToken: 'not-the-token',
      }),
    ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('lets a worker act only for itself: deregistering another worker is PERMISSION_DENIED', async () => {
    const intruder = await enroll({
      address: cluster.grpcAddress,
      caPem,
      identity: 'intruder',
      kind: 'worker',
      bootstrapToken: token,
    });
    const client = CrankClient.create(cluster.grpcAddress, intruder);
    try {
      await expect(
        rawCall((cb) =>
          client.raw.deregister(
            DeregisterRequest.fromPartial({ workerId, reason: 'hostile' }),
            new Metadata(),
            cb,
          ),
        ),
      ).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
      await expect(
        rawCall((cb) => client.raw.heartbeat(HeartbeatRequest.fromPartial({ workerId }), new Metadata(), cb)),
      ).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
      // The victim is still registered and serving.
      const probe = await cluster.client();
      expect((await probe.workers()).map((w) => w.id)).toContain(workerId);
      await expect(probe.invoke('debug.echo', { message: 'still here' })).resolves.toMatchObject({
        workerId,
      });
    } finally {
      client.close();
    }
  });

  it('answers NOT_FOUND to a heartbeat for an unknown (own) id', async () => {
    const ghost = await enroll({
      address: cluster.grpcAddress,
      caPem,
      identity: 'ghost',
      kind: 'worker',
      bootstrapToken: token,
    });
    const client = CrankClient.create(cluster.grpcAddress, ghost);
    try {
      await expect(
        rawCall((cb) =>
          client.raw.heartbeat(HeartbeatRequest.fromPartial({ workerId: 'ghost' }), new Metadata(), cb),
        ),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      client.close();
    }
  });
});

describe('contracts between worker and catalog', () => {
  let cluster: Cluster;
  const running: CrankWorker[] = [];

  beforeAll(async () => {
    cluster = await Cluster.start();
  }, 30_000);

  afterAll(async () => {
    await Promise.all(running.map((w) => w.stop()));
    await cluster?.close();
  });

  const location = (): { controllerUrl: string; dataDir: string; logger: Logger } => ({
    controllerUrl: cluster.grpcAddress,
    dataDir: cluster.dataDir,
    logger: pino({ level: 'silent' }),
  });

  it('fails a call with CONTRACT_VIOLATION when the worker breaks its output schema, and counts it', async () => {
    const broken = await startWorker({
      ...location(),
      name: 'broken',
      // Answers without the required workerId and receivedAt.
      capabilities: [serve(DEBUG_ECHO, (input) => ({ message: input.message }) as never)],
    });
    running.push(broken);
    const client = await cluster.client();
    await expect(client.invoke('debug.echo', { message: 'x' })).rejects.toMatchObject({
      code: 'CONTRACT_VIOLATION',
      message: expect.stringContaining('workerId'),
    });
    const metrics = String((await cluster.http('/metrics')).body);
    expect(metrics).toMatch(
      new RegExp(`crank_contract_violations_total\\{capability="debug.echo",worker="${broken.id}"\\} 1`),
    );
    await broken.stop();
  });

  it('refuses to start a worker whose declaration contradicts the catalog (CAPABILITY_MISMATCH)', async () => {
    const contradicting = defineCapability({
      ...DEBUG_ECHO.definition,
      version: '1.1.0',
      outputSchema: { type: 'object', properties: { echoed: { type: 'string' } } },
    });
    await expect(
      startWorker({
        ...location(),
        name: 'liar',
        capabilities: [serve(contradicting, () => ({ echoed: 'x' }))],
      }),
    ).rejects.toMatchObject({
      code: 'CAPABILITY_MISMATCH',
      message: expect.stringContaining('outputSchema'),
    });
  });
});
