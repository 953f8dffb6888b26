import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { CrankError, STREAM_AGGREGATE, defineCapability } from '@crank/capabilities';
import { bodyPayloads, readRequestBody, streamInputOf, type StreamInput } from './stream-body.js';

const MBOX = defineCapability({
  id: 'parse.box',
  version: '1.0.0',
  streaming: 'bidi',
  inputMediaTypes: ['application/mbox', 'application/octet-stream'],
  inputSchema: { type: 'object' },
  outputSchema: { type: 'object' },
});
const RECORDS = defineCapability({
  id: 'text.upper',
  version: '1.0.0',
  streaming: 'bidi',
  inputSchema: { type: 'object' },
  outputSchema: { type: 'object' },
});

async function payloads(chunks: string[], input: StreamInput, max = 1000): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const payload of bodyPayloads(Readable.from(chunks.map((c) => Buffer.from(c))), input, max)) {
    out.push([payload.contentType, Buffer.from(payload.data).toString()]);
  }
  return out;
}

describe('streamInputOf', () => {
  it('reads NDJSON types as records, JSON as one record, anything else as bytes of that type', () => {
    expect(streamInputOf('application/x-ndjson', MBOX)).toEqual({
      framing: 'ndjson',
      contentType: 'application/json',
    });
    expect(streamInputOf('application/jsonl; charset=utf-8', MBOX)).toEqual({
      framing: 'ndjson',
      contentType: 'application/json',
    });
    expect(streamInputOf('application/json', MBOX)).toEqual({
      framing: 'json',
      contentType: 'application/json',
    });
    expect(streamInputOf('application/mbox', MBOX)).toEqual({
      framing: 'bytes',
      contentType: 'application/mbox',
    });
  });

  it('relays NDJSON as bytes to a capability that takes it raw (it reads the lines itself)', () => {
    expect(streamInputOf('application/x-ndjson', STREAM_AGGREGATE)).toEqual({
      framing: 'bytes',
      contentType: 'application/x-ndjson',
    });
    expect(streamInputOf('application/json', STREAM_AGGREGATE)).toEqual({
      framing: 'json',
      contentType: 'application/json',
    });
  });

  it('without a content-type, takes the first raw type of the capability, else NDJSON', () => {
    expect(streamInputOf(undefined, MBOX)).toEqual({ framing: 'bytes', contentType: 'application/mbox' });
    expect(streamInputOf('  ', RECORDS)).toEqual({ framing: 'ndjson', contentType: 'application/json' });
  });
});

describe('bodyPayloads', () => {
  const ndjson: StreamInput = { framing: 'ndjson', contentType: 'application/json' };

  it('cuts NDJSON into one record per line wherever the chunks end, skipping blank lines', async () => {
    expect(await payloads(['{"a":', '1}\r\n\n  \n{"b"', ':2}\n{"c":3}'], ndjson)).toEqual([
      ['application/json', '{"a":1}'],
      ['application/json', '{"b":2}'],
      ['application/json', '{"c":3}'],
    ]);
  });

  it('refuses an NDJSON line or a JSON body over the record limit, naming it', async () => {
    await expect(payloads(['{"a":1}\n', 'x'.repeat(20)], ndjson, 10)).rejects.toThrow(
      new CrankError('PAYLOAD_TOO_LARGE', 'body line 2: a record may be at most 10 bytes'),
    );
    await expect(
      payloads(['{"a":', '"long"}'], { framing: 'json', contentType: 'application/json' }, 10),
    ).rejects.toThrow('body: a record may be at most 10 bytes');
  });

  it('passes bytes through chunk by chunk, and a JSON body as one record', async () => {
    expect(await payloads(['ab', '', 'c'], { framing: 'bytes', contentType: 'application/mbox' })).toEqual([
      ['application/mbox', 'ab'],
      ['application/mbox', 'c'],
    ]);
    expect(await payloads(['{"a":', '1}'], { framing: 'json', contentType: 'application/json' })).toEqual([
      ['application/json', '{"a":1}'],
    ]);
  });
});

describe('readRequestBody', () => {
  it('reads a body chunk by chunk, only as asked, and stops when told to', async () => {
    let pulled = 0;
    const body = new Readable({
      highWaterMark: 4,
      read() {
        pulled++;
        this.push(pulled <= 100 ? Buffer.from('chunk') : null);
      },
    });
    const stop = new AbortController();
    const chunks = readRequestBody(body, stop.signal);
    await chunks.next();
    await chunks.next();
    expect(pulled).toBeLessThan(10);
    stop.abort();
    expect(await chunks.next()).toEqual({ done: true, value: undefined });
  });

  it('fails with CANCELLED when the client goes away mid-body', async () => {
    // Bytes arrive only when the test pushes them, as from a client that is still sending.
    const body = new Readable({ read: () => undefined });
    body.push(Buffer.from('start'));
    const chunks = readRequestBody(body, new AbortController().signal);
    await chunks.next();
    const next = chunks.next();
    body.destroy();
    await expect(next).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});
