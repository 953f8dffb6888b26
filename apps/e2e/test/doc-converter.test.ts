import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ConvertDocumentOutput } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import { Cluster, type RunningProcess } from './harness.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const CONVERTER_MAIN = join(root, 'apps/worker-doc-converter/dist/main.js');
const FIXTURES = join(root, 'apps/worker-doc-converter/test/fixtures');
/** Two lines of known text, rendered at 300 dpi. */
const OCR_PNG = readFileSync(join(FIXTURES, 'ocr-invoice.png'));
const OCR_JPEG = readFileSync(join(FIXTURES, 'ocr-invoice.jpg'));
const MIB = 1024 * 1024;

/**
 * A valid JPEG of `size` bytes: the fixture with comment segments (COM, at most 64 KiB each)
 * after its start marker, which decoders skip. Real bytes of a real format, made without a codec.
 */
function jpegOfSize(size: number): Buffer {
  const segments: Buffer[] = [OCR_JPEG.subarray(0, 2)];
  let total = OCR_JPEG.length;
  while (total < size) {
    const payload = Math.min(65_533, size - total - 4);
    const segment = Buffer.alloc(4 + Math.max(payload, 0), 0x20);
    segment.writeUInt16BE(0xfffe, 0);
    segment.writeUInt16BE(Math.max(payload, 0) + 2, 2);
    segments.push(segment);
    total += segment.length;
  }
  segments.push(OCR_JPEG.subarray(2));
  return Buffer.concat(segments);
}

/**
 * `convert.document` served by the worker process, through a real controller: JSON and raw bytes
 * over gRPC, raw bytes over HTTP, files near the size limit, and the errors a caller sees.
 */
describe('worker-doc-converter', () => {
  let cluster: Cluster;
  let client: CrankClient;
  let worker: RunningProcess;
  let workerId: string;

  beforeAll(async () => {
    cluster = await Cluster.start();
    worker = cluster.spawn('doc-converter', CONVERTER_MAIN, {
      CRANK_CONVERT_THREADS: '2',
      CRANK_DRAIN_MS: '5000',
    });
    workerId = String((await worker.event('registered', 30_000))['workerId']);
    client = await cluster.client();
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  });

  const invokeHttp = (body: Buffer, contentType: string): ReturnType<Cluster['http']> =>
    cluster.http('/v1/invoke/convert.document', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    });

  it('converts Markdown to PDF over gRPC in JSON, and the PDF back to text as raw bytes', async () => {
    const pdf = await client.invoke<ConvertDocumentOutput>('convert.document', {
      to: 'pdf',
      from: 'markdown',
      text: '# Release notes\n\nVersion **2.0** converts files.',
    });
    expect(pdf.workerId).toBe(workerId);
    expect(pdf.version).toBe('2.0.0');
    expect(pdf.output).toMatchObject({
      format: 'pdf',
      mediaType: 'application/pdf',
      metadata: { from: 'markdown', pages: 1 },
    });

    const bytes = Buffer.from(pdf.output.content ?? '', 'base64');
    const text = await client.invoke<ConvertDocumentOutput>('convert.document', bytes, {
      contentType: 'application/pdf; to=text',
    });
    expect(text.output.text).toBe('Release notes\nVersion 2.0 converts files.\n');
    expect(text.output.metadata).toMatchObject({
      from: 'pdf',
      pages: 1,
      title: 'Release notes',
      bytesIn: bytes.length,
    });
  });

  it('converts an image over gRPC and answers the file alone with reply=raw', async () => {
    const result = await client.invoke<Buffer>('convert.document', OCR_PNG, {
      contentType: 'image/png; to=webp; width=288; reply=raw',
    });
    expect(result.contentType).toBe('image/webp');
    expect(Buffer.isBuffer(result.output)).toBe(true);
    expect(result.output.subarray(8, 12).toString('latin1')).toBe('WEBP');
  });

  it('reads text by OCR from raw bytes over HTTP', async () => {
    const { status, headers, body } = await invokeHttp(OCR_PNG, 'image/png; to=text');
    expect(status).toBe(200);
    expect(headers.get('x-crank-worker')).toBe(workerId);
    const output = body as ConvertDocumentOutput;
    expect(
      output.text
        ?.trim()
        .split('\n')
        .map((line) => line.replace(/\s+/g, ' ')),
    ).toEqual(['Hello Crank 42', 'Total due 1234 EUR']);
    expect(output.metadata).toMatchObject({ from: 'png', width: 576, height: 163, bytesIn: OCR_PNG.length });
  });

  it('takes the options of a raw-bytes call from the query string too', async () => {
    const { status, body } = await cluster.http('/v1/invoke/convert.document?to=text', {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: OCR_PNG,
    });
    expect(status).toBe(200);
    expect((body as ConvertDocumentOutput).text).toContain('Hello Crank 42');
  });

  it('converts a 49 MiB file sent as raw bytes over HTTP, and refuses 51 MiB with 413', async () => {
    const near = jpegOfSize(49 * MIB);
    const converted = await invokeHttp(near, 'image/jpeg; to=png');
    expect(converted.status).toBe(200);
    expect((converted.body as ConvertDocumentOutput).metadata).toMatchObject({
      from: 'jpeg',
      bytesIn: 49 * MIB,
      width: 576,
      height: 163,
    });

    const over = await invokeHttp(jpegOfSize(51 * MIB), 'image/jpeg; to=png');
    expect(over.status).toBe(413);
    expect(over.body).toEqual({
      error: {
        code: 'PAYLOAD_TOO_LARGE',
        message: `content: ${51 * MIB} bytes is more than this worker takes (${50 * MIB} bytes, CRANK_CONVERT_MAX_BYTES)`,
        details: { bytes: 51 * MIB, maxBytes: 50 * MIB },
      },
    });
  });

  it("carries a 46 MiB file base64 in JSON over gRPC, within the JSON form's 47 MiB", async () => {
    const near = jpegOfSize(46 * MIB);
    const result = await client.invoke<ConvertDocumentOutput>('convert.document', {
      to: 'webp',
      content: near.toString('base64'),
    });
    expect(result.output).toMatchObject({
      format: 'webp',
      metadata: { from: 'jpeg', bytesIn: 46 * MIB, width: 576, height: 163 },
    });
  });

  it('answers a corrupt file with 400 INVALID_INPUT and a contradicted format with 415, and keeps serving', async () => {
    const truncated = await invokeHttp(OCR_PNG.subarray(0, 2000), 'image/png; to=jpeg');
    expect(truncated.status).toBe(400);
    expect(truncated.body).toMatchObject({
      error: {
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/^content: is not a valid png file \(.+\)$/),
      },
    });

    const contradicted = await invokeHttp(OCR_JPEG, 'image/png; to=webp');
    expect(contradicted.status).toBe(415);
    expect(contradicted.body).toMatchObject({
      error: {
        code: 'UNSUPPORTED_FORMAT',
        message: 'content: declared png (content-type image/png) but the bytes are jpeg',
      },
    });

    const after = await client.invoke<ConvertDocumentOutput>('convert.document', {
      to: 'json',
      from: 'csv',
      text: 'a\n1\n',
    });
    expect(after.output.text).toBe('[{"a":"1"}]');
  });

  it('stops on SIGTERM: drains, closes its conversion threads and exits by itself with 0', async () => {
    worker.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });

  it('gives up on a conversion past CRANK_CONVERT_TIMEOUT_MS and serves the next call', async () => {
    const slow = cluster.spawn('doc-converter-slow', CONVERTER_MAIN, { CRANK_CONVERT_TIMEOUT_MS: '2000' });
    const slowId = String((await slow.event('registered', 30_000))['workerId']);
    // Thousands of pages of text: some ten seconds of work in its thread, stopped at 2 s.
    const text = 'All work and no play makes a long document.\n'.repeat(600_000);
    await expect(
      client.invoke('convert.document', Buffer.from(text), { contentType: 'text/plain; to=pdf' }),
    ).rejects.toMatchObject({
      code: 'DEADLINE_EXCEEDED',
      message: expect.stringMatching(/^convert: gave up after 2000 ms/),
    });
    const next = await client.invoke<ConvertDocumentOutput>('convert.document', { to: 'pdf', text: 'short' });
    expect(next.workerId).toBe(slowId);
    expect(next.output.metadata.pages).toBe(1);
  });
});
