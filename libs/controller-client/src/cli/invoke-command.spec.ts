import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { CrankError, type StreamingMode } from '@crank/capabilities';
import type { CallOptions, CapabilityInfo, InvokeResult, WorkerInfo } from '../crank-client.js';
import type { InvocationStream } from '../invocation-stream.js';
import type { JobsClient } from '../jobs-client.js';
import { CHUNK_BYTES } from './input-records.js';
import { invokeCommand } from './invoke-command.js';
import { runCli, type CliClient, type CliIo } from './run-cli.js';
import { USAGE } from './usage.js';

/** The controller as the CLI sees it: records each call; a stream echoes its records by default. */
class FakeClient implements CliClient {
  offered: CapabilityInfo[] = [];
  readonly calls: { capability: string; input: unknown; options: CallOptions | undefined }[] = [];
  readonly streams: { capability: string; records: unknown[]; options: CallOptions | undefined }[] = [];
  answer: (records: AsyncIterable<unknown>, options: CallOptions | undefined) => AsyncIterable<unknown> = (
    records,
  ) => records;
  closed = false;

  offer(id: string, version: string, streaming: StreamingMode, inputMediaTypes: string[] = []): this {
    this.offered.push({
      id,
      version,
      streaming,
      inputMediaTypes,
      description: '',
      liveWorkers: 1,
      inputSchema: true,
      outputSchema: true,
    });
    return this;
  }

  capabilities(): Promise<CapabilityInfo[]> {
    return Promise.resolve(this.offered);
  }

  workers(): Promise<WorkerInfo[]> {
    return Promise.resolve([]);
  }

  invoke(capability: string, input: unknown, options?: CallOptions): Promise<InvokeResult<unknown>> {
    this.calls.push({ capability, input, options });
    return Promise.resolve({
      output: { ok: true },
      contentType: 'application/json',
      workerId: 'w1',
      version: '1.0.0',
    });
  }

  invokeStream(
    capability: string,
    input: AsyncIterable<unknown> | Iterable<unknown>,
    options?: CallOptions,
  ): InvocationStream<unknown> {
    const entry = { capability, records: [] as unknown[], options };
    this.streams.push(entry);
    async function* recorded(): AsyncGenerator<unknown> {
      for await (const record of input) {
        entry.records.push(record);
        yield record;
      }
    }
    const output = this.answer(recorded(), options);
    return {
      accepted: Promise.resolve({ workerId: 'w1', version: '1.0.0' }),
      cancel: () => undefined,
      [Symbol.asyncIterator]: () => output[Symbol.asyncIterator](),
    };
  }

  get jobs(): JobsClient {
    throw new Error('crank invoke makes no job calls');
  }

  close(): void {
    this.closed = true;
  }
}

interface TestIo extends CliIo {
  out(): Buffer;
  err(): string;
}

/** `stdin`: piped text, or `'tty'` for a terminal; `read` records whether it was read. */
function testIo(
  stdin: string | 'tty',
  signal = new AbortController().signal,
): TestIo & { stdinRead(): boolean } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  let err = '';
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  let read = false;
  const input = new Readable({
    read() {
      read = true;
      this.push(stdin === 'tty' ? null : Buffer.from(stdin));
      if (stdin !== 'tty') this.push(null);
    },
  });
  return {
    stdin: Object.assign(input, stdin === 'tty' ? { isTTY: true } : {}),
    stdout,
    stderr,
    env: {},
    signal,
    out: () => Buffer.concat(out),
    err: () => err,
    stdinRead: () => read,
  };
}

function crank(argv: string[], io: CliIo, client: FakeClient): Promise<number> {
  return runCli(argv, io, (_command, context) =>
    invokeCommand({ ...context, connect: () => Promise.resolve(client) }),
  );
}

let scratch: string;

beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'crank-invoke-'));
});

afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('crank invoke on a unary capability', () => {
  it('sends --json and prints the answer with the worker and version', async () => {
    const client = new FakeClient().offer('debug.echo', '1.0.0', 'none');
    const io = testIo('tty');

    const code = await crank(
      ['invoke', 'debug.echo', '--json', '{"message":"hi"}', '--version', '^1', '--timeout', '5000'],
      io,
      client,
    );

    expect(code).toBe(0);
    expect(client.calls).toEqual([
      {
        capability: 'debug.echo',
        input: { message: 'hi' },
        options: { signal: io.signal, version: '^1', timeoutMs: 5000 },
      },
    ]);
    expect(JSON.parse(io.out().toString())).toEqual({
      workerId: 'w1',
      version: '1.0.0',
      output: { ok: true },
    });
    expect(client.closed).toBe(true);
  });

  it('reads piped stdin as one JSON document', async () => {
    const client = new FakeClient().offer('debug.echo', '1.0.0', 'none');
    await expect(
      crank(['invoke', 'debug.echo'], testIo('{\n  "message": "piped"\n}\n'), client),
    ).resolves.toBe(0);
    expect(client.calls[0]?.input).toEqual({ message: 'piped' });
  });

  it('sends {} for empty piped stdin, and for a terminal without reading it', async () => {
    const client = new FakeClient().offer('debug.echo', '1.0.0', 'none');
    await crank(['invoke', 'debug.echo'], testIo(''), client);
    const tty = testIo('tty');
    await crank(['invoke', 'debug.echo'], tty, client);

    expect(client.calls.map((c) => c.input)).toEqual([{}, {}]);
    expect(tty.stdinRead()).toBe(false);
  });

  it('sends a --file with a non-JSON --content-type as bytes', async () => {
    const client = new FakeClient().offer('convert.document', '1.0.0', 'none');
    const file = join(scratch, 'doc.pdf');
    await writeFile(file, '%PDF-1.7');

    await crank(
      ['invoke', 'convert.document', '--file', file, '--content-type', 'application/pdf'],
      testIo('tty'),
      client,
    );

    expect(client.calls[0]?.input).toEqual(Buffer.from('%PDF-1.7'));
    expect(client.calls[0]?.options?.contentType).toBe('application/pdf');
  });
});

describe('crank invoke on a streaming capability', () => {
  it('sends piped stdin as JSON lines and prints each output record as one JSON line', async () => {
    const client = new FakeClient().offer('text.upper', '1.0.0', 'bidi');
    const io = testIo('{"text":"a"}\n\n{"text":"b"}\n');

    await expect(crank(['invoke', 'text.upper'], io, client)).resolves.toBe(0);

    expect(client.calls).toEqual([]);
    expect(client.streams[0]?.records).toEqual([{ text: 'a' }, { text: 'b' }]);
    expect(io.out().toString()).toBe('{"text":"a"}\n{"text":"b"}\n');
  });

  it('sends a --file with a non-JSON --content-type as 64 KiB chunks and writes byte output raw', async () => {
    const client = new FakeClient().offer('parse.mbox', '1.0.0', 'bidi');
    const file = join(scratch, 'box.mbox');
    await writeFile(file, Buffer.alloc(2 * CHUNK_BYTES + 10, 'x'));
    client.answer = async function* (records) {
      for await (const record of records) yield Buffer.from(`[${(record as Buffer).length}]`);
    };
    const io = testIo('tty');

    await crank(['invoke', 'parse.mbox', '--file', file, '--content-type', 'application/mbox'], io, client);

    const records = client.streams[0]?.records as Buffer[];
    expect(records.map((r) => [Buffer.isBuffer(r), r.length])).toEqual([
      [true, CHUNK_BYTES],
      [true, CHUNK_BYTES],
      [true, 10],
    ]);
    expect(client.streams[0]?.options?.contentType).toBe('application/mbox');
    expect(io.out().toString()).toBe(`[${CHUNK_BYTES}][${CHUNK_BYTES}][10]`);
  });

  it('sends a --file without --content-type as the first raw type the capability takes', async () => {
    const client = new FakeClient().offer('parse.mbox', '2.0.0', 'bidi', [
      'application/mbox',
      'application/octet-stream',
    ]);
    const file = join(scratch, 'Inbox');
    await writeFile(file, 'From a\nSubject: x\n\nbody\n');
    client.answer = async function* (records) {
      for await (const record of records) yield { bytes: (record as Buffer).length };
    };
    const io = testIo('tty');

    await crank(['invoke', 'parse.mbox', '--file', file], io, client);

    expect(client.streams[0]?.options?.contentType).toBe('application/mbox');
    expect(io.out().toString()).toBe('{"bytes":24}\n');
    expect(io.err()).toBe(''); // stderr is no terminal here: no progress line
  });

  it('still reads a .jsonl --file as JSON lines when the capability also takes bytes', async () => {
    const client = new FakeClient().offer('parse.mbox', '2.0.0', 'bidi', ['application/mbox']);
    const file = join(scratch, 'records.jsonl');
    await writeFile(file, '{"previewChars":0}\n');
    await crank(['invoke', 'parse.mbox', '--file', file], testIo('tty'), client);
    expect(client.streams[0]?.records).toEqual([{ previewChars: 0 }]);
    expect(client.streams[0]?.options?.contentType).toBeUndefined();
  });

  it('draws bytes sent of the total, records and MB/s on stderr when it is a terminal', async () => {
    const client = new FakeClient().offer('parse.mbox', '2.0.0', 'bidi', ['application/mbox']);
    const file = join(scratch, 'box.mbox');
    await writeFile(file, Buffer.alloc(3 * CHUNK_BYTES, 'x'));
    const io = testIo('tty');
    Object.assign(io.stderr, { isTTY: true, columns: 200 });

    await crank(['invoke', 'parse.mbox', '--file', file], io, client);

    const lines = io
      .err()
      .split('\r\x1b[K')
      .filter((line) => line !== '');
    expect(lines.at(-1)).toMatch(
      /^\[#{20}\] 100% {2}196\.6 kB \/ 196\.6 kB {2}3 records {2}\d+\.\d MB\/s\n$/,
    );
  });

  it('reads --file - from stdin even when stdin is a terminal', async () => {
    const client = new FakeClient().offer('text.upper', '1.0.0', 'input');
    const io = Object.assign(testIo('{"n":1}\n'), {});
    Object.assign(io.stdin, { isTTY: true });

    await crank(['invoke', 'text.upper', '--file', '-'], io, client);

    expect(client.streams[0]?.records).toEqual([{ n: 1 }]);
  });

  it('sends the whole input as one record to a capability that streams only its output', async () => {
    const client = new FakeClient().offer('report.pages', '1.0.0', 'output');
    const file = join(scratch, 'request.json');
    await writeFile(file, '{\n  "pages": 2\n}\n');

    await crank(['invoke', 'report.pages', '--file', file], testIo('tty'), client);

    expect(client.streams[0]?.records).toEqual([{ pages: 2 }]);
  });

  it('uses the streaming mode of the highest version in --version', async () => {
    const client = new FakeClient().offer('text.upper', '1.0.0', 'none').offer('text.upper', '2.0.0', 'bidi');

    await crank(['invoke', 'text.upper', '--json', '{"text":"a"}', '--version', '^1'], testIo('tty'), client);
    await crank(['invoke', 'text.upper', '--json', '{"text":"a"}'], testIo('tty'), client);

    expect(client.calls).toHaveLength(1);
    expect(client.streams[0]?.records).toEqual([{ text: 'a' }]);
  });

  it('fails with INVALID_INPUT naming the line that is not JSON', async () => {
    const client = new FakeClient().offer('text.upper', '1.0.0', 'bidi');
    const io = testIo('{"text":"a"}\nnope\n');

    await expect(crank(['invoke', 'text.upper'], io, client)).resolves.toBe(1);

    expect(JSON.parse(io.err())).toMatchObject({
      error: { code: 'INVALID_INPUT', message: expect.stringMatching(/^input line 2: must be JSON/) },
    });
  });

  it('cancels the call on Ctrl-C and exits 130', async () => {
    const client = new FakeClient().offer('text.upper', '1.0.0', 'bidi');
    const interrupted = new AbortController();
    client.answer = async function* (_records, options) {
      yield { first: true };
      const signal = options?.signal;
      if (!signal?.aborted) await new Promise((resolve) => signal?.addEventListener('abort', resolve));
      throw new CrankError('CANCELLED', 'Cancelled on client');
    };
    const io = testIo('tty', interrupted.signal);
    io.stdout.once('data', () => interrupted.abort());

    await expect(crank(['invoke', 'text.upper', '--json', '{}'], io, client)).resolves.toBe(130);

    expect(client.streams[0]?.options?.signal?.aborted).toBe(true);
    expect(io.out().toString()).toBe('{"first":true}\n');
    expect(client.closed).toBe(true);
  });
});

describe('crank invoke usage errors', () => {
  it.each([
    [['invoke'], 'invoke: name the capability'],
    [['invoke', 'a', 'b'], 'invoke: one capability only'],
    [['invoke', 'a', '--json', '{}', '--file', 'x'], 'invoke: give --json or --file, not both'],
    [['invoke', 'a', '--json', '{'], '--json: must be JSON'],
    [
      ['invoke', 'a', '--json', '{}', '--content-type', 'image/png'],
      '--content-type: applies to --file or stdin',
    ],
    [
      ['invoke', 'a', '--timeout', '5s'],
      '--timeout: must be a positive whole number of milliseconds (got "5s")',
    ],
    [['invoke', 'a', '--file', '/nonexistent/input.json'], '--file: cannot read /nonexistent/input.json'],
  ])('exits 2 for %j', async (argv, message) => {
    const client = new FakeClient();
    const io = testIo('tty');

    await expect(crank(argv, io, client)).resolves.toBe(2);

    expect(io.err()).toMatch(new RegExp(`^crank: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(io.err()).toContain(USAGE);
    expect(client.calls).toEqual([]);
  });
});
