import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import sharp from 'sharp';
import type { ClassifyImageOutput, ImageClassification } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import { Cluster, type RunningProcess } from './harness.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLASSIFIER_MAIN = join(root, 'apps/worker-image-classifier-cpu/dist/main.js');
const FIXTURES = join(root, 'apps/worker-image-classifier-cpu/test/fixtures');
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));
const MIB = 1024 * 1024;

/** Photographs and drawings with the labels written down by looking at them (fixtures/README.md). */
const KNOWN: [string, string, string][] = [
  ['chelsea.jpg', 'image/jpeg', 'neutral'],
  ['coffee.jpg', 'image/jpeg', 'neutral'],
  ['queen.png', 'image/png', 'drawing'],
  ['cats.png', 'image/png', 'drawing'],
];

/**
 * `classify.image` served by the CPU worker process through a real controller: known images get
 * their labels over gRPC (raw bytes and base64 JSON) and HTTP (raw body), a batch is answered in
 * order, EXIF orientation and GIF first frames are honoured, and the errors a caller sees.
 */
describe('worker-image-classifier-cpu', () => {
  let cluster: Cluster;
  let client: CrankClient;
  let worker: RunningProcess;
  let workerId: string;

  beforeAll(async () => {
    cluster = await Cluster.start();
    worker = cluster.spawn('image-classifier', CLASSIFIER_MAIN, { CRANK_DRAIN_MS: '5000' });
    workerId = String((await worker.event('registered', 30_000))['workerId']);
    await worker.event('model_ready', 60_000);
    client = await cluster.client();
  }, 90_000);

  afterAll(async () => {
    await cluster?.close();
  });

  const invokeHttp = (body: Buffer, contentType: string, query = ''): ReturnType<Cluster['http']> =>
    cluster.http(`/v1/invoke/classify.image${query}`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
    });

  it.each(KNOWN)('labels %s (%s) as %s over gRPC, as raw bytes', async (name, type, label) => {
    const result = await client.invoke<ClassifyImageOutput>('classify.image', fixture(name), {
      contentType: type,
    });
    expect(result.workerId).toBe(workerId);
    expect(result.version).toBe('2.0.0');
    const output = result.output as ImageClassification & {
      model: string;
      device: string;
      threshold: number;
    };
    expect(output).toMatchObject({
      label,
      safe: true,
      threshold: 0.5,
      model: 'nsfwjs-mobilenet-v2@4.4.0',
      device: 'cpu',
    });
    expect(Object.keys(output.scores).sort()).toEqual(['drawing', 'hentai', 'neutral', 'porn', 'sexy']);
    expect(output.score).toBe(Math.max(...Object.values(output.scores)));
  });

  it('labels images sent as a raw body over HTTP, with the threshold as a query parameter', async () => {
    const { status, headers, body } = await invokeHttp(
      fixture('astronaut.jpg'),
      'image/jpeg',
      '?threshold=0.001',
    );
    expect(status).toBe(200);
    expect(headers.get('x-crank-worker')).toBe(workerId);
    const output = body as ImageClassification & { threshold: number };
    expect(output).toMatchObject({ label: 'neutral', threshold: 0.001, width: 320, height: 320 });
    expect(output.safe).toBe(output.unsafeScore < 0.001);

    const drawing = await invokeHttp(fixture('breakdance.png'), 'image/png');
    expect(drawing.status).toBe(200);
    expect(drawing.body).toMatchObject({ label: 'drawing', safe: true });
  });

  it('answers a batch of base64 images in order, as results', async () => {
    const names = ['motorcycle.jpg', 'fireman.png', 'chelsea.jpg', 'queen.png'];
    const result = await client.invoke<ClassifyImageOutput>('classify.image', {
      images: names.map((name) => fixture(name).toString('base64')),
    });
    const output = result.output as { results: ImageClassification[] };
    expect(output.results.map((r) => r.label)).toEqual(['neutral', 'drawing', 'neutral', 'drawing']);
  });

  it('honours EXIF orientation, reads WebP and AVIF, and the first frame of a GIF', async () => {
    // The photograph stored on its side, with orientation 8 (rotate 90 degrees counter-clockwise).
    const cat = fixture('chelsea.jpg');
    const sideways = await sharp(cat).rotate(90).withMetadata({ orientation: 8 }).jpeg().toBuffer();
    const { width, height } = await sharp(cat).metadata();
    const upright = await client.invoke<ClassifyImageOutput>('classify.image', sideways, {
      contentType: 'image/jpeg',
    });
    expect(upright.output).toMatchObject({ label: 'neutral', width, height });

    for (const [type, bytes] of [
      ['image/webp', await sharp(fixture('queen.png')).webp().toBuffer()],
      ['image/avif', await sharp(fixture('cats.png')).avif().toBuffer()],
    ] as const) {
      const result = await client.invoke<ClassifyImageOutput>('classify.image', bytes, { contentType: type });
      expect([type, (result.output as ImageClassification).label]).toEqual([type, 'drawing']);
    }

    // Two frames of a drawing and a photograph: the first frame decides, whichever it is.
    const frame = (name: string): Promise<Buffer> =>
      sharp(fixture(name))
        .resize(200, 200, { fit: 'fill' })
        .flatten({ background: '#ffffff' })
        .removeAlpha()
        .raw()
        .toBuffer();
    const gif = async (first: string, second: string): Promise<Buffer> =>
      sharp(Buffer.concat([await frame(first), await frame(second)]), {
        raw: { width: 200, height: 400, channels: 3, pageHeight: 200 },
      })
        .gif()
        .toBuffer();
    for (const [first, second, label] of [
      ['breakdance.png', 'chelsea.jpg', 'drawing'],
      ['chelsea.jpg', 'breakdance.png', 'neutral'],
    ] as const) {
      const result = await client.invoke<ClassifyImageOutput>('classify.image', await gif(first, second), {
        contentType: 'image/gif',
      });
      expect([first, result.output]).toMatchObject([first, { label, width: 200, height: 200 }]);
    }
  });

  it('answers a corrupt image with INVALID_INPUT and an image over 20 MiB with PAYLOAD_TOO_LARGE, and keeps serving', async () => {
    const jpeg = fixture('coffee.jpg');
    const truncated = await invokeHttp(jpeg.subarray(0, jpeg.length / 3), 'image/jpeg');
    expect(truncated.status).toBe(400);
    expect(truncated.body).toMatchObject({
      error: {
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/^image: is not a valid jpeg image \(/),
      },
    });

    const corrupt = client.invoke('classify.image', {
      images: [jpeg.toString('base64'), Buffer.from('not an image at all').toString('base64')],
    });
    await expect(corrupt).rejects.toMatchObject({
      code: 'UNSUPPORTED_FORMAT',
      message: expect.stringMatching(/^images\[1\]: /),
    });

    const large = Buffer.concat([jpeg, Buffer.alloc(20 * MIB)]);
    const tooLarge = await invokeHttp(large, 'image/jpeg');
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body).toEqual({
      error: {
        code: 'PAYLOAD_TOO_LARGE',
        message: `content: ${large.length} bytes is more than an image may be (${20 * MIB} bytes)`,
        details: { bytes: large.length, maxBytes: 20 * MIB },
      },
    });
    await expect(client.invoke('classify.image', large, { contentType: 'image/jpeg' })).rejects.toMatchObject(
      { code: 'PAYLOAD_TOO_LARGE' },
    );

    const after = await invokeHttp(fixture('chelsea.jpg'), 'image/jpeg');
    expect(after.body).toMatchObject({ label: 'neutral' });
  });

  it('answers concurrent calls, batched together, each with its own result', async () => {
    const calls = Array.from({ length: 12 }, (_, i) =>
      client.invoke<ClassifyImageOutput>('classify.image', fixture(i % 2 ? 'queen.png' : 'coffee.jpg'), {
        contentType: i % 2 ? 'image/png' : 'image/jpeg',
      }),
    );
    const labels = (await Promise.all(calls)).map((r) => (r.output as ImageClassification).label);
    expect(labels).toEqual(Array.from({ length: 12 }, (_, i) => (i % 2 ? 'drawing' : 'neutral')));
  });
});
