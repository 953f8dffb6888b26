import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CLASSIFY_EMAIL } from '@crank/capabilities';
import { CapabilityError } from '@crank/worker-runtime';
import { DEFAULT_MODEL_DIR } from './classifier-config.js';
import { EmailClassifierHandlers } from './email-classifier.handlers.js';
import { SpamModel } from './spam-model.js';
import { SpamModelSlot } from './spam-model-slot.js';

const SPAM = [
  'From: "Best Deals" <deals@cheap-meds.example.biz>',
  'To: you@example.org',
  'Subject: LOWEST PRICES GUARANTEED!!! Act now',
  'Content-Type: text/html',
  '',
  '<html><body><font color=red size=5>FREE OFFER!</font> Click here to order now and save 80%!',
  'Limited time offer, guaranteed satisfaction or your money back. <a href="http://cheap-meds.example.biz/order">Order now</a>',
  'To be removed from our mailing list click here.</body></html>',
].join('\r\n');

const HAM = [
  'From: Ann Example <ann@example.com>',
  'To: dev-list@example.org',
  'Subject: Re: patch for the build script',
  'Date: Fri, 27 Nov 2026 12:00:00 +0000',
  '',
  'Thanks for the patch. I tried it on my machine and the build works now, but the test for',
  'the parser still fails on the old kernel. Could you have a look at the log I attached',
  'yesterday? I think the problem is in the configure step.',
  '',
  'Ann',
].join('\r\n');

describe('EmailClassifierHandlers', () => {
  const slot = new SpamModelSlot();
  const handlers = new EmailClassifierHandlers(slot);

  beforeAll(async () => {
    slot.model = await SpamModel.load(DEFAULT_MODEL_DIR);
  });
  afterAll(async () => {
    await slot.model?.close();
  });

  it('labels a spam as spam and a colleague as ham, from raw bytes, { raw } and the parts', async () => {
    const spam = await handlers.classifyEmail(Buffer.from(SPAM));
    expect(spam).toMatchObject({ label: 'spam', model: slot.model?.card.model });
    expect(spam.score).toBeGreaterThan(0.5);
    expect(CLASSIFY_EMAIL.validateOutput(spam)).toEqual([]);
    expect(await handlers.classifyEmail({ raw: SPAM })).toEqual(spam);
    expect(
      await handlers.classifyEmail({ raw: Buffer.from(SPAM).toString('base64'), encoding: 'base64' }),
    ).toEqual(spam);

    const ham = await handlers.classifyEmail({ raw: HAM });
    expect(ham.label).toBe('ham');
    expect(
      (
        await handlers.classifyEmail({
          subject: 'Re: patch for the build script',
          from: 'Ann Example <ann@example.com>',
          body: HAM.split('\r\n\r\n')[1] ?? '',
        })
      ).label,
    ).toBe('ham');
  });

  it('names the features that pushed the decision, strongest first, spam-ward positive', async () => {
    const { topFeatures } = await handlers.classifyEmail(Buffer.from(SPAM));
    expect(topFeatures.length).toBeGreaterThan(0);
    expect(topFeatures.length).toBeLessThanOrEqual(10);
    const sizes = topFeatures.map((f) => Math.abs(f.weight));
    expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
    expect(topFeatures.some((f) => f.weight > 0)).toBe(true);
  });

  it('refuses bytes that are no message with INVALID_INPUT naming raw', async () => {
    await expect(handlers.classifyEmail(Buffer.from('\x00\x01 no header'))).rejects.toThrow(
      new CapabilityError(
        'INVALID_INPUT',
        'raw: is not an RFC 5322 message (it starts with no header field)',
      ),
    );
  });

  it('answers MODEL_NOT_READY while the model is not loaded', async () => {
    const empty = new EmailClassifierHandlers(new SpamModelSlot());
    await expect(empty.classifyEmail({ body: 'hi' })).rejects.toMatchObject({ code: 'MODEL_NOT_READY' });
  });

  it('labels sentiment', () => {
    expect(handlers.classifySentiment({ text: 'What a wonderful surprise!' }).label).toBe('positive');
  });
});
