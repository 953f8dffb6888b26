import { getEventListeners } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  credentials,
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { defineCapability } from '@crank/capabilities';
import {
  CapabilitySummary,
  ControllerClient,
  ControllerService,
  StreamFrame,
  type ControllerServer,
  type InvokeRequest,
  type InvokeResponse,
  type ListCapabilitiesResponse,
} from '@crank/proto';
import { CrankClient } from './crank-client.js';

/** A CrankClient over plaintext, so that the fake controller below needs no certificates. */
class PlaintextClient extends CrankClient {
  static over(address: string): CrankClient {
    return new PlaintextClient(new ControllerClient(address, credentials.createInsecure()));
  }
}

type StreamCall = ServerDuplexStream<StreamFrame, StreamFrame>;

/**
 * A controller on a real socket whose handlers each test sets. Everything else is the real
 * CrankClient and the real grpc-js transport.
 */
class FakeController {
  onStream: (call: StreamCall) => void = () => undefined;
  onInvoke: (request: InvokeRequest) => InvokeResponse = () => ({
    output: undefined,
    workerId: '',
    version: '',
  });
  capabilities: CapabilitySummary[] = [];
  /** Every stream call, in arrival order, with whether the client cancelled it. */
  readonly streams: { call: StreamCall; cancelled: boolean }[] = [];

  private constructor(
    private readonly server: Server,
    readonly address: string,
  ) {}

  static async start(): Promise<FakeController> {
    const server = new Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const fake = new FakeController(server, `127.0.0.1:${port}`);
    const handlers: Partial<ControllerServer> = {
      invokeStream: (call: StreamCall) => {
        const entry = { call, cancelled: false };
        fake.streams.push(entry);
        call.on('cancelled', () => (entry.cancelled = true));
        fake.onStream(call);
      },
      invoke: (call: ServerUnaryCall<InvokeRequest, InvokeResponse>, done: sendUnaryData<InvokeResponse>) =>
        done(null, fake.onInvoke(call.request)),
      listCapabilities: (_call: unknown, done: sendUnaryData<ListCapabilitiesResponse>) =>
        done(null, { capabilities: fake.capabilities }),
    };
    server.addService(ControllerService, handlers as UntypedServiceImplementation);
    return fake;
  }

  close(): void {
    this.server.forceShutdown();
  }
}

const accepted = (workerId = 'w1', version = '1.2.0'): StreamFrame =>
  StreamFrame.fromPartial({ frame: { $case: 'accepted', value: { workerId, version } } });
const chunk = (contentType: string, data: Buffer): StreamFrame =>
  StreamFrame.fromPartial({ frame: { $case: 'chunk', value: { contentType, data } } });
const end = (): StreamFrame => StreamFrame.fromPartial({ frame: { $case: 'end', value: {} } });

/** Accepts, then sends every chunk back until the caller's `end`. */
function echo(call: StreamCall): void {
  call.write(accepted());
  call.on('data', (frame: StreamFrame) => {
    if (frame.frame?.$case === 'chunk') call.write(StreamFrame.fromPartial(frame));
    if (frame.frame?.$case === 'end') {
      call.write(end());
      call.end();
    }
  });
}

/** Accepts and never reads: the caller's writes back up once the transport's buffers are full. */
function acceptAndStall(call: StreamCall): void {
  call.write(accepted());
}

async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** An input of 1 MiB chunks that records how far it got and whether it was closed. */
function bigInput(limit = 1_000): {
  items: AsyncGenerator<Buffer>;
  yielded: () => number;
  closed: () => boolean;
} {
  const block = Buffer.alloc(1024 * 1024, 7);
  let yielded = 0;
  let closed = false;
  async function* items(): AsyncGenerator<Buffer> {
    try {
      while (yielded < limit) {
        yielded += 1;
        yield block;
      }
    } finally {
      closed = true;
    }
  }
  return { items: items(), yielded: () => yielded, closed: () => closed };
}

/**
 * A grpc-js stream buffers 16 frames; with the server reading none, the pump has to stop at about
 * this point and wait for 'drain', which never comes.
 */
const STALLED = 16;

let fake: FakeController;
let client: CrankClient;

beforeAll(async () => {
  fake = await FakeController.start();
  client = PlaintextClient.over(fake.address);
});

afterAll(() => {
  client.close();
  fake.close();
});

afterEach(() => {
  fake.onStream = () => undefined;
  fake.capabilities = [];
  fake.streams.length = 0;
});

describe('CrankClient.invokeStream', () => {
  it('settles accepted before the output is read', async () => {
    fake.onStream = echo;
    const stream = client.invokeStream<string>('text.upper', ['a', 'b']);

    await expect(stream.accepted).resolves.toEqual({ workerId: 'w1', version: '1.2.0' });
    await expect(collect(stream)).resolves.toEqual(['a', 'b']);
  });

  it('rejects accepted and the reader with the controller error when no worker takes the stream', async () => {
    fake.onStream = (call) => call.emit('error', { code: status.NOT_FOUND, details: 'no capability' });
    const stream = client.invokeStream('missing.thing', []);

    await expect(stream.accepted).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(collect(stream)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('stops the input pump at once when cancelled while it waits for the network', async () => {
    fake.onStream = acceptAndStall;
    const input = bigInput();
    const stream = client.invokeStream('bytes.count', input.items, { contentType: 'application/x-test' });
    await eventually(() => input.yielded() >= STALLED);

    stream.cancel();

    await expect(collect(stream)).rejects.toMatchObject({ code: 'CANCELLED' });
    await eventually(input.closed);
    expect(input.yielded()).toBeLessThan(1_000);
    await eventually(() => fake.streams[0]?.cancelled === true);
  });

  it('stops the input pump and removes its listener when the caller signal aborts', async () => {
    fake.onStream = acceptAndStall;
    const input = bigInput();
    const abort = new AbortController();
    const stream = client.invokeStream('bytes.count', input.items, { signal: abort.signal });
    await eventually(() => input.yielded() >= STALLED);

    abort.abort();

    await expect(collect(stream)).rejects.toMatchObject({ code: 'CANCELLED' });
    await eventually(input.closed);
    expect(input.yielded()).toBeLessThan(1_000);
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
  });

  it('stops the input pump when the controller fails the call', async () => {
    fake.onStream = acceptAndStall;
    const input = bigInput();
    const stream = client.invokeStream('bytes.count', input.items);
    await eventually(() => input.yielded() >= STALLED);

    fake.streams[0]?.call.emit('error', { code: status.RESOURCE_EXHAUSTED, details: 'queue full' });

    await expect(collect(stream)).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    await eventually(input.closed);
    expect(input.yielded()).toBeLessThan(1_000);
  });

  it('stops the input pump when the deadline passes', async () => {
    fake.onStream = acceptAndStall;
    const input = bigInput();
    const stream = client.invokeStream('bytes.count', input.items, { timeoutMs: 300 });

    await expect(collect(stream)).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    await eventually(input.closed);
    expect(input.yielded()).toBeLessThan(1_000);
  });

  it('cancels the call and hands the reader the error of an input that throws', async () => {
    fake.onStream = echo;
    const failure = new Error('disk gone');
    async function* input(): AsyncGenerator<unknown> {
      yield { n: 1 };
      throw failure;
    }
    const stream = client.invokeStream('text.upper', input());

    await expect(collect(stream)).rejects.toBe(failure);
    await eventually(() => fake.streams[0]?.cancelled === true);
  });

  it('cancels the call when the reader stops early', async () => {
    fake.onStream = (call) => {
      call.write(accepted());
      for (let i = 0; i < 5; i += 1) call.write(chunk('application/json', Buffer.from(String(i))));
    };
    const input = bigInput(1);
    const stream = client.invokeStream<number>('count.up', input.items);
    const seen: number[] = [];
    for await (const n of stream) {
      seen.push(n);
      if (n === 1) break;
    }

    expect(seen).toEqual([0, 1]);
    await eventually(() => fake.streams[0]?.cancelled === true);
    await eventually(input.closed);
  });
});

describe('CrankClient with a Capability', () => {
  const upper = defineCapability<{ text: string }, { text: string }>({
    id: 'text.upper',
    version: '1.4.2',
    inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
    outputSchema: { type: 'object', properties: { text: { type: 'string' } } },
  });

  it('invokes by the capability id and ^ its version, typed by it', async () => {
    let asked: InvokeRequest | undefined;
    fake.onInvoke = (request) => {
      asked = request;
      return {
        output: { contentType: 'application/json', data: Buffer.from('{"text":"HI"}') },
        workerId: 'w2',
        version: '1.4.3',
      };
    };

    const result = await client.invoke(upper, { text: 'hi' });
    const text: string = result.output.text;

    expect(text).toBe('HI');
    expect(result).toMatchObject({ workerId: 'w2', version: '1.4.3' });
    expect(asked).toMatchObject({ capability: 'text.upper', version: '^1.4.2' });
    expect(JSON.parse(Buffer.from(asked?.input?.data ?? []).toString('utf8'))).toEqual({ text: 'hi' });
  });

  it('keeps an explicit version range over the capability version', async () => {
    let asked: InvokeRequest | undefined;
    fake.onInvoke = (request) => {
      asked = request;
      return { output: undefined, workerId: 'w2', version: '2.0.0' };
    };

    await client.invoke(upper, { text: 'hi' }, { version: '>=1 <3' });

    expect(asked?.version).toBe('>=1 <3');
  });

  it('opens a stream by the capability id and ^ its version', async () => {
    const opened: StreamFrame[] = [];
    fake.onStream = (call) => {
      call.once('data', (frame: StreamFrame) => opened.push(frame));
      echo(call);
    };

    const records = await collect(client.invokeStream(upper, [{ text: 'a' }, { text: 'b' }]));

    expect(records).toEqual([{ text: 'a' }, { text: 'b' }]);
    expect(opened[0]?.frame).toMatchObject({
      $case: 'open',
      value: { capability: 'text.upper', version: '^1.4.2', contentType: 'application/json' },
    });
  });
});

describe('CrankClient byte streams', () => {
  it('sends Buffers as raw chunks with the content type and reads non-JSON chunks as Buffers', async () => {
    const received: { contentType: string; data: Buffer }[] = [];
    fake.onStream = (call) => {
      call.write(accepted());
      call.on('data', (frame: StreamFrame) => {
        if (frame.frame?.$case === 'chunk') {
          const { contentType, data } = frame.frame.value;
          received.push({ contentType, data: Buffer.from(data) });
          call.write(chunk('application/octet-stream', Buffer.from(data).reverse()));
        }
        if (frame.frame?.$case === 'end') {
          call.write(chunk('application/json', Buffer.from(`{"chunks":${received.length}}`)));
          call.write(end());
          call.end();
        }
      });
    };
    async function* input(): AsyncGenerator<unknown> {
      yield { previewChars: 10 };
      yield Buffer.from([1, 2, 3]);
      yield new Uint8Array([9, 9, 4, 5, 9]).subarray(2, 4);
    }

    const out = await collect(
      client.invokeStream('parse.mbox', input(), { contentType: 'application/mbox' }),
    );

    expect(received).toEqual([
      { contentType: 'application/json', data: Buffer.from('{"previewChars":10}') },
      { contentType: 'application/mbox', data: Buffer.from([1, 2, 3]) },
      { contentType: 'application/mbox', data: Buffer.from([4, 5]) },
    ]);
    expect(out.slice(1, 3)).toEqual([Buffer.from([3, 2, 1]), Buffer.from([5, 4])]);
    expect(Buffer.isBuffer(out[1])).toBe(true);
    expect(out[3]).toEqual({ chunks: 3 });
  });
});

describe('CrankClient.capabilities', () => {
  it('returns each version with its streaming mode and parsed schemas', async () => {
    const summary = (id: string, streaming: number): CapabilitySummary =>
      CapabilitySummary.fromPartial({
        id,
        version: '1.0.0',
        description: id,
        liveWorkers: 2,
        streaming,
        inputMediaTypes: id === 'a.none' ? ['text/csv'] : [],
        inputSchemaJson: '{"type":"object","required":["text"]}',
        outputSchemaJson: 'true',
      });
    fake.capabilities = [
      summary('a.none', 1),
      summary('a.input', 2),
      summary('a.output', 3),
      summary('a.bidi', 4),
      summary('a.unspecified', 0),
    ];

    const infos = await client.capabilities();

    expect(infos.map((c) => [c.id, c.streaming])).toEqual([
      ['a.none', 'none'],
      ['a.input', 'input'],
      ['a.output', 'output'],
      ['a.bidi', 'bidi'],
      ['a.unspecified', 'none'],
    ]);
    expect(infos[0]).toEqual({
      id: 'a.none',
      version: '1.0.0',
      description: 'a.none',
      liveWorkers: 2,
      streaming: 'none',
      inputMediaTypes: ['text/csv'],
      inputSchema: { type: 'object', required: ['text'] },
      outputSchema: true,
    });
  });

  it('fails with INTERNAL naming the field when a schema is not JSON', async () => {
    fake.capabilities = [CapabilitySummary.fromPartial({ id: 'bad', inputSchemaJson: '{nope' })];

    await expect(client.capabilities()).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining('capabilities[0].inputSchemaJson: must be JSON'),
    });
  });
});
