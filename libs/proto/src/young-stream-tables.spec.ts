import { createRequire } from 'node:module';
import { types } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as GrpcJs from '@grpc/grpc-js';
import type { Client, Server } from '@grpc/grpc-js';
import {
  keepStreamTablesYoung,
  refreshStreamTables,
  sessionState,
  watchedStreamTables,
} from './young-stream-tables.js';

// grpc-js as Node itself loads it, the copy keepStreamTablesYoung reaches in a real process (jest
// would otherwise hand this test a copy of its own).
const grpc = createRequire(import.meta.url)('@grpc/grpc-js') as typeof GrpcJs;

const bytes = (value: Buffer): Buffer => value;
const definition = {
  echo: {
    path: '/crank.test.Tables/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: bytes,
    requestDeserialize: bytes,
    responseSerialize: bytes,
    responseDeserialize: bytes,
  },
};

describe('keepStreamTablesYoung', () => {
  let server: Server;
  let client: Client & {
    echo(request: Buffer, callback: (error: Error | null, response?: Buffer) => void): void;
  };
  /** Answers held back until the test releases them. */
  const held: (() => void)[] = [];

  beforeAll(async () => {
    keepStreamTablesYoung();
    server = new grpc.Server();
    server.addService(definition, {
      echo: (call: { request: Buffer }, callback: (error: Error | null, response: Buffer) => void) => {
        const answer = (): void => callback(null, call.request);
        if (call.request.toString() === 'hold') held.push(answer);
        else answer();
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const Client = grpc.makeGenericClientConstructor(definition, 'Tables');
    client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as typeof client;
  });

  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  const echo = (text: string): Promise<string> =>
    new Promise((resolve, reject) =>
      client.echo(Buffer.from(text), (error, response) =>
        error ? reject(error) : resolve(String(response)),
      ),
    );

  it('finds the stream tables of both ends of a connection and the calls of its grpc-js transport', async () => {
    await expect(echo('first')).resolves.toBe('first');

    const { sessions, transports } = watchedStreamTables();
    // This process's client session and the server's session for it.
    expect(sessions.length).toBeGreaterThanOrEqual(2);
    for (const session of sessions) {
      const state = sessionState(session);
      // Node's tables are of its own realm (SafeMap, SafeSet), not of the test's.
      expect(types.isMap(state?.['streams'])).toBe(true);
      expect(types.isSet(state?.['pendingStreams'])).toBe(true);
    }
    expect(transports.length).toBeGreaterThanOrEqual(1);
    for (const transport of transports) {
      expect(types.isSet((transport as { activeCalls?: unknown }).activeCalls)).toBe(true);
    }
  });

  it('renews the tables with the same entries, and calls running across it still complete', async () => {
    const running = echo('hold');
    running.catch(() => undefined);
    await waitFor(() => held.length === 1);
    const { sessions, transports } = watchedStreamTables();
    const before = sessions.map((session) => sessionState(session)?.['streams'] as Map<number, unknown>);
    const calls = transports.map((transport) => (transport as { activeCalls: Set<unknown> }).activeCalls);
    const entries = before.map((streams) => [...streams.entries()]);

    refreshStreamTables();

    sessions.forEach((session, i) => {
      const after = sessionState(session)?.['streams'] as Map<number, unknown>;
      expect(after).not.toBe(before[i]);
      expect(after.constructor).toBe(before[i]?.constructor);
      expect([...after.entries()]).toEqual(entries[i]);
      // The old table is emptied: a dead table in the old generation pins nothing.
      expect(before[i]?.size).toBe(0);
    });
    transports.forEach((transport, i) => {
      expect((transport as { activeCalls: Set<unknown> }).activeCalls).not.toBe(calls[i]);
    });
    expect(calls.reduce((sum, set) => sum + set.size, 0)).toBe(0);

    held.splice(0).forEach((answer) => answer());
    await expect(running).resolves.toBe('hold');
    await expect(echo('after')).resolves.toBe('after');
    // Every stream of the finished calls left the renewed tables.
    await waitFor(() =>
      watchedStreamTables().sessions.every(
        (session) => (sessionState(session)?.['streams'] as Map<number, unknown>).size === 0,
      ),
    );
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
}
