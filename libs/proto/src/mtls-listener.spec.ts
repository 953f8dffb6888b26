import { connect, type ClientHttp2Session } from 'node:http2';
import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { withWideWindows } from './mtls-listener.js';
import { WIRE_LIMITS } from './wire.js';

describe('withWideWindows', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  async function sessionTo(wide: boolean): Promise<ClientHttp2Session> {
    const grpcServer = new Server();
    const create = (): ReturnType<Server['createConnectionInjector']> =>
      grpcServer.createConnectionInjector(ServerCredentials.createInsecure());
    const injector = wide ? withWideWindows(grpcServer, create) : create();
    const tcp = createServer((socket) => injector.injectConnection(socket));
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    const client = connect(`http://127.0.0.1:${(tcp.address() as AddressInfo).port}`);
    closers.push(() => {
      client.destroy();
      injector.destroy();
      tcp.close();
      grpcServer.forceShutdown();
    });
    await once(client, 'remoteSettings');
    // The connection's WINDOW_UPDATE follows the settings; one round trip settles it.
    await new Promise<void>((resolve) => client.ping(() => resolve()));
    return client;
  }

  it("opens the grpc-js server's stream and connection windows wide", async () => {
    const client = await sessionTo(true);

    expect(client.remoteSettings.initialWindowSize).toBe(WIRE_LIMITS.streamWindowBytes);
    expect(client.state.remoteWindowSize).toBe(WIRE_LIMITS.connectionWindowBytes);
  });

  it("leaves HTTP/2's 64 KiB without it (the default this works around)", async () => {
    const client = await sessionTo(false);

    expect(client.remoteSettings.initialWindowSize).toBe(65_535);
    expect(client.state.remoteWindowSize).toBe(65_535);
  });
});
