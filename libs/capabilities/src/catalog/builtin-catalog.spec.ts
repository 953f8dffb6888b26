import { describe, expect, it } from '@jest/globals';
import { parseCapabilityDefinition } from '../capability-definition.js';
import { InvalidInputError } from '../errors.js';
import { BUILTIN_CAPABILITIES, builtinCatalog } from './index.js';

const PNG_1X1 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const RAW_EMAIL = [
  'From: Ann Example <ann@example.com>',
  'To: bob@example.org',
  'Subject: Lunch?',
  'Date: Fri, 27 Nov 2026 12:00:00 +0000',
  'Message-ID: <1@example.com>',
  '',
  'Noon at the usual place?',
].join('\r\n');

interface Samples {
  goodInput: unknown;
  badInput: unknown;
  /** A path the bad input's error must name. */
  badPath: string;
  goodOutput: unknown;
  badOutput: unknown;
}

const summary = {
  messageId: '1@example.com',
  from: { name: 'Ann Example', address: 'ann@example.com' },
  to: [{ address: 'bob@example.org' }],
  cc: [],
  subject: 'Lunch?',
  date: '2026-11-27T12:00:00Z',
  attachments: [
    { filename: 'menu.pdf', contentType: 'application/pdf', size: 1234, sha256: 'ab'.repeat(32) },
  ],
  warnings: [],
};

const SAMPLES: Record<string, Samples> = {
  'debug.echo': {
    goodInput: { message: 'hello', delayMs: 250, failWith: 'UNAVAILABLE' },
    badInput: { message: 'hello', failWith: 'OOPS' },
    badPath: '/failWith',
    goodOutput: { message: 'hello', workerId: 'worker-1', receivedAt: '2026-11-27T12:00:00.123Z' },
    badOutput: { message: 'hello', workerId: 'worker-1', receivedAt: 'now' },
  },
  'debug.echo-stream': {
    goodInput: { message: 'hello' },
    badInput: { message: 42 },
    badPath: '/message',
    goodOutput: { message: 'hello', seq: 0 },
    badOutput: { message: 'hello', seq: -1 },
  },
  'convert.document': {
    goodInput: { to: 'pdf', from: 'markdown', text: '# Title', options: { pageSize: 'A4', title: 'T' } },
    badInput: { from: 'docx', to: 'pdf', content: 'not base64!' },
    badPath: '/content',
    goodOutput: {
      format: 'pdf',
      mediaType: 'application/pdf',
      content: 'JVBERi0xLjcK',
      metadata: { from: 'markdown', bytesIn: 7, bytesOut: 9, durationMs: 12.5, pages: 1 },
      warnings: [],
    },
    badOutput: {
      format: 'pdf',
      mediaType: 'application/pdf',
      content: 'JVBERi0xLjcK',
      metadata: { from: 'markdown', bytesIn: 7, bytesOut: -1, durationMs: 12.5 },
      warnings: [],
    },
  },
  'parse.email': {
    goodInput: { raw: RAW_EMAIL },
    badInput: { raw: 'Subject: x', encoding: 'base64' },
    badPath: '/raw',
    goodOutput: {
      ...summary,
      textBody: 'Noon at the usual place?',
      headers: { subject: 'Lunch?', 'x-spam': 'no' },
    },
    badOutput: { ...summary, headers: { Subject: 'Lunch?' } },
  },
  'parse.mbox': {
    goodInput: { previewChars: 200, includeHeaders: false },
    badInput: { previewChars: 501 },
    badPath: '/previewChars',
    goodOutput: {
      type: 'message',
      index: 0,
      offset: 0,
      size: 812,
      ...summary,
      textPreview: 'Noon at the usual place?',
    },
    badOutput: { type: 'message', index: 0, offset: 0, size: 812, ...summary, textPreview: 'x'.repeat(501) },
  },
  'classify.email': {
    goodInput: { subject: 'You won!', from: 'prize@example.net', body: 'Claim your prize now.' },
    badInput: { subject: 'You won!' },
    badPath: '/body',
    goodOutput: {
      label: 'spam',
      score: 0.97,
      topFeatures: [{ feature: 'subject:won', weight: 1.25 }],
      model: 'spam-logreg@1.0.0',
    },
    badOutput: { label: 'spam', score: 1.5, topFeatures: [], model: 'spam-logreg@1.0.0' },
  },
  'classify.sentiment': {
    goodInput: { text: 'What a lovely day.' },
    badInput: { text: 42 },
    badPath: '/text',
    goodOutput: { label: 'positive', score: 0.59, model: 'vader@1.1.3' },
    badOutput: { label: 'glad', score: 0.59, model: 'vader@1.1.3' },
  },
  'classify.image': {
    goodInput: { image: PNG_1X1, threshold: 0.3 },
    badInput: { images: [PNG_1X1], threshold: 1.5 },
    badPath: '/threshold',
    goodOutput: {
      label: 'neutral',
      score: 0.97,
      scores: { drawing: 0.02, hentai: 0, neutral: 0.97, porn: 0.01, sexy: 0 },
      unsafeScore: 0.01,
      safe: true,
      width: 640,
      height: 480,
      threshold: 0.5,
      model: 'nsfwjs-mobilenet-v2@4.4.0',
      device: 'cpu',
    },
    badOutput: {
      label: 'neutral',
      score: 0.97,
      scores: { neutral: 0.97 },
      unsafeScore: 0.01,
      safe: true,
      width: 640,
      height: 480,
      threshold: 0.5,
      model: 'nsfwjs-mobilenet-v2@4.4.0',
      device: 'tpu',
    },
  },
  'stream.aggregate': {
    goodInput: { query: { window: { type: 'sliding', sizeMs: 10_000, slideMs: 1_000 } } },
    badInput: { query: { window: { type: 'tumbling', sizeMs: 0 } } },
    badPath: '/query/window',
    goodOutput: {
      type: 'window',
      key: 'sensor-7',
      windowStart: 1000,
      windowEnd: 2000,
      count: 2,
      sum: 43,
      min: 21.5,
      max: 21.5,
      mean: 21.5,
      early: false,
      closedAt: 1_795_000_000_000,
    },
    badOutput: { type: 'window', key: 'sensor-7', count: -1 },
  },
  'stream.classify': {
    goodInput: { query: { classifier: 'sentiment', windowMs: 60_000 } },
    badInput: { query: { classifier: 'spam' } },
    badPath: '/query/classifier',
    goodOutput: {
      type: 'classified',
      offset: 3,
      event: { ts: 1000, key: 'k' },
      label: 'positive',
      score: 0.6,
    },
    badOutput: { type: 'labels', counts: { positive: -1 } },
  },
};

describe('BUILTIN_CAPABILITIES', () => {
  it('covers exactly the sampled ids, one version each', () => {
    expect(builtinCatalog().ids()).toEqual(Object.keys(SAMPLES).sort());
    expect(BUILTIN_CAPABILITIES.map((capability) => capability.id)).toEqual(builtinCatalog().ids());
  });

  it.each(BUILTIN_CAPABILITIES.map((capability) => [capability.key, capability] as const))(
    '%s survives the wire: its JSON is a valid definition equal to itself',
    (_key, capability) => {
      const parsed = parseCapabilityDefinition(JSON.stringify(capability));
      expect(parsed.definition).toEqual(capability.definition);
    },
  );

  it.each(BUILTIN_CAPABILITIES.map((capability) => [capability.key, capability] as const))(
    '%s schemas are tight: closed objects with a description on every property',
    (_key, capability) => {
      for (const schema of [capability.definition.inputSchema, capability.definition.outputSchema]) {
        const record = schema as {
          additionalProperties?: unknown;
          properties?: Record<string, { description?: string }>;
        };
        expect(record.additionalProperties).toBe(false);
        for (const [name, property] of Object.entries(record.properties ?? {})) {
          expect([name, typeof property.description]).toEqual([name, 'string']);
        }
      }
    },
  );

  it.each(Object.entries(SAMPLES))('%s accepts a realistic sample and refuses a bad one', (id, samples) => {
    const capability = builtinCatalog().get(id);
    expect(capability.validateInput(samples.goodInput)).toEqual([]);
    expect(capability.validateOutput(samples.goodOutput)).toEqual([]);
    expect(() => capability.assertInput(samples.badInput)).toThrow(InvalidInputError);
    expect(capability.validateInput(samples.badInput).map((issue) => issue.path)).toContain(samples.badPath);
    expect(capability.validateOutput(samples.badOutput)).not.toEqual([]);
  });

  it('parse.email checks raw as base64 only when encoding says so', () => {
    const parseEmail = builtinCatalog().get('parse.email');
    expect(
      parseEmail.validateInput({ raw: Buffer.from(RAW_EMAIL).toString('base64'), encoding: 'base64' }),
    ).toEqual([]);
    expect(parseEmail.validateInput({ raw: 'Subject: x', encoding: 'utf8' })).toEqual([]);
  });

  it('classify.email@2 takes the whole message or its parts, never both, or raw bytes', () => {
    const email = builtinCatalog().get('classify.email', '^2');
    expect(email.validateInput({ raw: RAW_EMAIL })).toEqual([]);
    expect(
      email.validateInput({ raw: Buffer.from(RAW_EMAIL).toString('base64'), encoding: 'base64' }),
    ).toEqual([]);
    expect(email.validateInput({ body: 'Noon?' })).toEqual([]);
    expect(email.validateInput({ raw: RAW_EMAIL, body: 'Noon?' })).not.toEqual([]);
    expect(email.validateInput({ raw: RAW_EMAIL, subject: 'Lunch?' })).not.toEqual([]);
    expect(email.validateInput({ body: 'Noon?', encoding: 'base64' })).not.toEqual([]);
    expect(email.validateInput({})).not.toEqual([]);
    expect(email.acceptsMediaType('message/rfc822')).toBe(true);
  });

  it('stream.aggregate checks the query and leaves events to the worker, which reports bad ones', () => {
    const aggregate = builtinCatalog().get('stream.aggregate');
    expect(aggregate.validateInput({ query: { window: { type: 'session', gapMs: 30_000 } } })).toEqual([]);
    expect(
      aggregate.validateInput({
        query: { window: { type: 'tumbling', sizeMs: 1000 }, aggregations: ['p95'] },
      }),
    ).not.toEqual([]);
    expect(aggregate.validateInput({ ts: 'yesterday', key: 7, value: 'n/a' })).toEqual([]);
    expect(aggregate.acceptsMediaType('application/x-ndjson')).toBe(true);
  });

  it('convert.document@2 takes the file as exactly one of content and text, or as raw bytes', () => {
    const convert = builtinCatalog().get('convert.document', '^2');
    const content = Buffer.from('a,b').toString('base64');
    expect(convert.validateInput({ to: 'json', content })).toEqual([]);
    expect(convert.validateInput({ to: 'json', from: 'csv', text: 'a,b', reply: 'raw' })).toEqual([]);
    expect(convert.validateInput({ to: 'json', content, text: 'a,b' })).not.toEqual([]);
    expect(convert.validateInput({ to: 'json' })).not.toEqual([]);
    expect(convert.validateInput({ to: 'webp', content, options: { quality: 101 } })).not.toEqual([]);
    expect(convert.acceptsMediaType('application/pdf; to=text')).toBe(true);
    expect(convert.acceptsMediaType('image/gif')).toBe(false);
  });

  it('debug.echo may fail with every contract code', () => {
    expect(builtinCatalog().get('debug.echo').definition.errorCodes).toHaveLength(17);
  });

  it('classify.image declares the codes its workers use', () => {
    expect(builtinCatalog().get('classify.image').definition.errorCodes).toEqual([
      'UNSUPPORTED_FORMAT',
      'INVALID_INPUT',
      'PAYLOAD_TOO_LARGE',
      'MODEL_NOT_READY',
    ]);
  });

  it('classify.image@2 takes exactly one of image and images (1 to 64), or raw image bytes', () => {
    const classify = builtinCatalog().get('classify.image', '^2');
    expect(classify.validateInput({ images: [PNG_1X1, PNG_1X1] })).toEqual([]);
    expect(classify.validateInput({ image: PNG_1X1, images: [PNG_1X1] })).not.toEqual([]);
    expect(classify.validateInput({ threshold: 0.5 })).not.toEqual([]);
    expect(classify.validateInput({ images: [] })).not.toEqual([]);
    expect(classify.validateInput({ images: Array.from({ length: 65 }, () => PNG_1X1) })).not.toEqual([]);
    expect(classify.acceptsMediaType('image/jpeg; threshold=0.3')).toBe(true);
    expect(classify.acceptsMediaType('image/gif')).toBe(true);
    expect(classify.acceptsMediaType('image/tiff')).toBe(false);
  });

  it('classify.image@2 answers one classification, or results for a batch, never both', () => {
    const classify = builtinCatalog().get('classify.image', '^2');
    const one = SAMPLES['classify.image']?.goodOutput as Record<string, unknown>;
    const { threshold, model, device, ...result } = one;
    expect(classify.validateOutput({ results: [result], threshold, model, device })).toEqual([]);
    expect(classify.validateOutput({ ...one, results: [result] })).not.toEqual([]);
    expect(classify.validateOutput({ threshold, model, device })).not.toEqual([]);
  });
});
