import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineCapability } from '@crank/capabilities';
import { CapabilityError, serve, startWorker, type CrankWorker } from '@crank/worker-runtime';
import { pino } from 'pino';
import { Cluster } from './harness.js';

// POST /v1/stream/:capability for any streaming capability (parse.mbox has its own tests in
// email-parser.test.ts): NDJSON records in and out, bytes in and base64 records out, one JSON
// record for a capability that streams only its output, and a typed error line mid-stream.

interface Line {
  seq: number;
  text: string;
}

const LINE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['seq', 'text'],
  properties: { seq: { type: 'integer' }, text: { type: 'string' } },
};

const UPPER = defineCapability<Line, Line, 'bidi'>({
  id: 'text.upper',
  version: '1.0.0',
  streaming: 'bidi',
  inputSchema: LINE_SCHEMA,
  outputSchema: LINE_SCHEMA,
  errorCodes: ['INVALID_INPUT'],
});

const REVERSE = defineCapability<Buffer, Buffer, 'bidi'>({
  id: 'bytes.reverse',
  version: '1.0.0',
  streaming: 'bidi',
  inputMediaTypes: ['application/octet-stream'],
  inputSchema: { type: 'string', contentMediaType: 'application/octet-stream' },
  outputSchema: { type: 'string' },
});

const WORDS = defineCapability<{ text: string }, { word: string }, 'output'>({
  id: 'text.words',
  version: '1.0.0',
  streaming: 'output',
  inputSchema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
  outputSchema: { type: 'object', required: ['word'], properties: { word: { type: 'string' } } },
});

/** Sends `body` and answers the status, the headers and the NDJSON lines of the answer. */
function stream(
  url: string,
  body: string | Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; lines: unknown[] }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          lines: text
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => JSON.parse(line) as unknown),
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the HTTP stream route', () => {
  let cluster: Cluster;
  let worker: CrankWorker;

  beforeAll(async () => {
    cluster = await Cluster.start();
    worker = await startWorker({
      name: 'http-streams',
      controllerUrl: cluster.grpcAddress,
      dataDir: cluster.dataDir,
      logger: pino({ level: 'silent' }),
      capabilities: [
        serve(UPPER, async function* (records: AsyncIterable<Line>) {
          for await (const record of records) {
            if (record.text === 'fail')
              throw new CapabilityError('INVALID_INPUT', `record ${record.seq}: asked to fail`);
            yield { seq: record.seq, text: record.text.toUpperCase() };
          }
        }),
        serve(REVERSE, async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) yield Buffer.from(chunk).reverse();
        }),
        serve(WORDS, async function* (input: { text: string }) {
          for (const word of input.text.split(/\s+/)) yield { word };
        }),
      ],
    });
  }, 30_000);

  afterAll(async () => {
    await worker?.stop();
    await cluster?.close();
  });

  it('takes NDJSON records and answers NDJSON records, naming the worker', async () => {
    const body = Array.from({ length: 300 }, (_, seq) => JSON.stringify({ seq, text: `line ${seq}` })).join(
      '\r\n',
    );
    const answer = await stream(`${cluster.httpUrl}/v1/stream/text.upper`, `${body}\n\n`, {
      'content-type': 'application/x-ndjson',
    });
    expect(answer.status).toBe(200);
    expect(answer.headers).toMatchObject({
      'content-type': 'application/x-ndjson',
      'x-crank-worker': worker.id,
      'x-crank-version': '1.0.0',
    });
    expect(answer.lines).toHaveLength(300);
    expect(answer.lines[299]).toEqual({ seq: 299, text: 'LINE 299' });
  });

  it('reads a body without a content-type as NDJSON when the capability takes only JSON', async () => {
    const answer = await stream(`${cluster.httpUrl}/v1/stream/text.upper`, '{"seq":1,"text":"a"}', {});
    expect(answer.lines).toEqual([{ seq: 1, text: 'A' }]);
  });

  it('relays raw bytes in, and bytes out as base64 records', async () => {
    const answer = await stream(`${cluster.httpUrl}/v1/stream/bytes.reverse`, Buffer.from('abc'), {
      'content-type': 'application/octet-stream',
    });
    expect(answer.lines).toEqual([
      { contentType: 'application/octet-stream', bytes: 3, base64: Buffer.from('cba').toString('base64') },
    ]);
  });

  it('takes one JSON body for a capability that streams only its output', async () => {
    const answer = await stream(`${cluster.httpUrl}/v1/stream/text.words`, '{"text":"one two three"}', {
      'content-type': 'application/json',
    });
    expect(answer.lines).toEqual([{ word: 'one' }, { word: 'two' }, { word: 'three' }]);
  });

  it('ends with one typed error record after the records already sent', async () => {
    const body = ['{"seq":1,"text":"a"}', '{"seq":2,"text":"fail"}', '{"seq":3,"text":"c"}'].join('\n');
    const answer = await stream(`${cluster.httpUrl}/v1/stream/text.upper`, body, {
      'content-type': 'application/x-ndjson',
    });
    expect(answer.status).toBe(200);
    expect(answer.lines).toEqual([
      { seq: 1, text: 'A' },
      { error: { code: 'INVALID_INPUT', message: 'record 2: asked to fail', details: expect.any(Object) } },
    ]);
  });

  it('checks each record against the input schema, naming the field', async () => {
    const answer = await stream(`${cluster.httpUrl}/v1/stream/text.upper`, '{"seq":"one","text":"a"}\n', {
      'content-type': 'application/x-ndjson',
    });
    const last = answer.lines.at(-1) as { error: { code: string; message: string } };
    expect(last.error.code).toBe('INVALID_INPUT');
    expect(last.error.message).toContain('/seq');
  });

  it('answers a bad deadline header with 400 before anything is relayed', async () => {
    const answer = await stream(`${cluster.httpUrl}/v1/stream/text.upper`, '{}', {
      'content-type': 'application/x-ndjson',
      'x-crank-timeout-ms': 'soon',
    });
    expect(answer.status).toBe(400);
    expect(answer.lines[0]).toMatchObject({ error: { code: 'INVALID_INPUT' } });
  });
});
