import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineCapability } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import { serve, startWorker, type CrankWorker } from '@crank/worker-runtime';
import { pino } from 'pino';
import { Cluster } from './harness.js';

const UPPER = defineCapability<{ seq: number; text: string }, { seq: number; text: string }, 'bidi'>({
  id: 'text.upper',
  version: '1.0.0',
  streaming: 'bidi',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['seq', 'text'],
    properties: { seq: { type: 'integer' }, text: { type: 'string' } },
  },
  outputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['seq', 'text'],
    properties: { seq: { type: 'integer' }, text: { type: 'string' } },
  },
});

const COUNT = defineCapability<Buffer, { bytes: number; chunks: number }, 'input'>({
  id: 'bytes.count',
  version: '1.0.0',
  streaming: 'input',
  inputMediaTypes: ['application/octet-stream'],
  inputSchema: { type: 'string', contentMediaType: 'application/octet-stream' },
  outputSchema: {
    type: 'object',
    required: ['bytes', 'chunks'],
    properties: { bytes: { type: 'integer' }, chunks: { type: 'integer' } },
  },
});

/** InvokeStream through the controller to a worker: order, bytes, validation and back-pressure. */
describe('streaming calls', () => {
  let cluster: Cluster;
  let worker: CrankWorker;
  let client: CrankClient;
  let consumed = 0;
  let slow = false;

  beforeAll(async () => {
    cluster = await Cluster.start();
    worker = await startWorker({
      name: 'streams',
      controllerUrl: cluster.grpcAddress,
      dataDir: cluster.dataDir,
      logger: pino({ level: 'silent' }),
      capabilities: [
        serve(UPPER, async function* (records: AsyncIterable<{ seq: number; text: string }>) {
          for await (const record of records) {
            consumed += 1;
            if (slow) await new Promise((r) => setTimeout(r, 2));
            yield { seq: record.seq, text: record.text.toUpperCase() };
          }
        }),
        serve(COUNT, async (chunks: AsyncIterable<Buffer>) => {
          let bytes = 0;
          let count = 0;
          for await (const chunk of chunks) {
            bytes += chunk.length;
            count += 1;
          }
          return { bytes, chunks: count };
        }),
      ],
    });
    client = await cluster.client();
  }, 30_000);

  afterAll(async () => {
    await worker?.stop();
    await cluster?.close();
  });

  it('relays a bidi stream record by record, in order, and names the worker', async () => {
    async function* input(): AsyncGenerator<{ seq: number; text: string }> {
      for (let seq = 0; seq < 500; seq++) yield { seq, text: `record ${seq}` };
    }
    const stream = client.invokeStream<{ seq: number; text: string }>('text.upper', input());
    const out: { seq: number; text: string }[] = [];
    for await (const record of stream) out.push(record);
    expect(out).toHaveLength(500);
    expect(out.map((r) => r.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(out[42]).toEqual({ seq: 42, text: 'RECORD 42' });
    await expect(stream.accepted).resolves.toEqual({ workerId: worker.id, version: '1.0.0' });
  });

  it('streams raw bytes in and one JSON answer out', async () => {
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i));
    const stream = client.invokeStream<{ bytes: number; chunks: number }>('bytes.count', chunks, {
      contentType: 'application/octet-stream',
    });
    const answers = [];
    for await (const answer of stream) answers.push(answer);
    expect(answers).toEqual([{ bytes: 64 * 64 * 1024, chunks: 64 }]);
  });

  it('fails the stream with INVALID_INPUT naming the field when a record breaks the schema', async () => {
    const stream = client.invokeStream('text.upper', [
      { seq: 1, text: 'ok' },
      { seq: 'two', text: 'bad' },
    ]);
    const read = async (): Promise<void> => {
      for await (const _ of stream) {
        // drain
      }
    };
    await expect(read()).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('/seq'),
    });
  });

  it('slows the producer to the pace of a slow handler (back-pressure)', async () => {
    slow = true;
    consumed = 0;
    let produced = 0;
    let maxAhead = 0;
    const text = 'x'.repeat(16 * 1024);
    async function* input(): AsyncGenerator<{ seq: number; text: string }> {
      for (let seq = 0; seq < 600; seq++) {
        produced += 1;
        maxAhead = Math.max(maxAhead, produced - consumed);
        yield { seq, text };
      }
    }
    let received = 0;
    for await (const _ of client.invokeStream('text.upper', input())) received += 1;
    slow = false;
    expect(received).toBe(600);
    // Without back-pressure the producer would run all 600 records (9.6 MB) ahead of the handler.
    expect(maxAhead).toBeLessThan(300);
  }, 60_000);

  it('refuses InvokeStream for a unary capability with FAILED_PRECONDITION', async () => {
    const unary = await startWorker({
      name: 'unary',
      controllerUrl: cluster.grpcAddress,
      dataDir: cluster.dataDir,
      logger: pino({ level: 'silent' }),
      capabilities: [
        serve(
          defineCapability<string, number>({
            id: 'text.length',
            version: '1.0.0',
            inputSchema: { type: 'string' },
            outputSchema: { type: 'integer' },
          }),
          (input: string) => input.length,
        ),
      ],
    });
    try {
      const read = async (): Promise<void> => {
        for await (const _ of client.invokeStream('text.length', ['abc'])) {
          // drain
        }
      };
      await expect(read()).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
      await expect(client.invoke('text.length', 'abcd')).resolves.toMatchObject({
        output: 4,
        workerId: unary.id,
      });
    } finally {
      await unary.stop();
    }
  });
});
