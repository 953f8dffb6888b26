import { afterEach, describe, expect, it, jest } from '@jest/globals';
import sharp from 'sharp';
import type { ConvertDocumentInput, ConvertDocumentOutput } from '@crank/capabilities';
import { CapabilityError, type BinaryOutput, type HandlerContext } from '@crank/worker-runtime';
import { CONVERT } from './convert-capability.js';
import { ConvertHandlers } from './convert.handlers.js';
import { inProcessRunner, type ConversionRunner } from './conversion-runner.js';
import type { ConvertJob, ConvertResult } from './conversion.js';
import { compileConverterOptions, type ConverterOptions } from './converter-options.js';

const MIB = 1024 * 1024;

/** A runner that records the jobs it is given and hands them to another (in-process by default). */
class RecordingRunner implements ConversionRunner {
  readonly jobs: ConvertJob[] = [];
  readonly signals: AbortSignal[] = [];
  closed = false;

  constructor(private readonly inner: ConversionRunner = inProcessRunner()) {}

  run(
    job: ConvertJob,
    ctx: { signal: AbortSignal } & Parameters<ConversionRunner['run']>[1],
  ): Promise<ConvertResult> {
    this.jobs.push(job);
    this.signals.push(ctx.signal);
    return this.inner.run(job, ctx);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** A runner whose conversions never end, unless aborted. */
const stuck: ConversionRunner = {
  run: (_job, ctx) =>
    new Promise((_resolve, reject) =>
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error)),
    ),
  close: () => Promise.resolve(),
};

/** A runner that answers `data` as a PNG without converting anything. */
function answering(data: Uint8Array): ConversionRunner {
  return {
    run: () => Promise.resolve({ data, mediaType: 'image/png', metadata: {}, warnings: [] }),
    close: () => Promise.resolve(),
  };
}

function context(contentType: string, signal = new AbortController().signal): HandlerContext {
  return {
    signal,
    deadline: undefined,
    logger: undefined as never,
    capability: CONVERT.id,
    version: CONVERT.version,
    requestId: 'request-1',
    caller: 'test',
    workerId: 'doc-converter-test',
    contentType,
    jobId: undefined,
    progress: () => undefined,
    client: undefined as never,
    metrics: undefined as never,
  };
}

function handlers(
  runner: ConversionRunner = new RecordingRunner(),
  options: ConverterOptions = {},
): ConvertHandlers {
  return new ConvertHandlers(compileConverterOptions({ threads: 1, ...options }, {}), runner);
}

/** Calls the handler as the runtime does: JSON input checked against the schema, JSON output too. */
async function call(
  target: ConvertHandlers,
  input: ConvertDocumentInput | Buffer,
  contentType = 'application/json',
  signal?: AbortSignal,
): Promise<ConvertDocumentOutput | BinaryOutput> {
  if (!Buffer.isBuffer(input)) CONVERT.assertInput(input);
  const output = await target.convert(input, context(contentType, signal));
  if (!('data' in output)) CONVERT.assertOutput(output);
  return output;
}

async function failure(job: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await job.then(
    () => {
      throw new Error('the call succeeded');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CapabilityError);
  const { code, message } = error as CapabilityError;
  return { code, message };
}

const png = (width = 40, height = 30): Promise<Buffer> =>
  sharp({ create: { width, height, channels: 3, background: '#3366cc' } })
    .png()
    .toBuffer();

async function pdfOf(markdown: string): Promise<Buffer> {
  const output = (await call(handlers(), {
    to: 'pdf',
    from: 'markdown',
    text: markdown,
  })) as ConvertDocumentOutput;
  return Buffer.from(output.content ?? '', 'base64');
}

afterEach(() => {
  jest.useRealTimers();
});

describe('convert.document over raw bytes', () => {
  it('reads the target and options from the media type and answers JSON with metadata', async () => {
    const pdf = await pdfOf('# Minutes\n\nThe meeting opened at nine.');
    const output = (await call(handlers(), pdf, 'application/pdf; to=text')) as ConvertDocumentOutput;
    expect(output).toMatchObject({
      format: 'text',
      mediaType: 'text/plain; charset=utf-8',
      text: 'Minutes\nThe meeting opened at nine.\n',
      metadata: { from: 'pdf', bytesIn: pdf.length, pages: 1, title: 'Minutes' },
      warnings: [],
    });
    expect(output.metadata.bytesOut).toBe(Buffer.byteLength(output.text ?? ''));
    expect(output.metadata.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('answers the file alone with reply=raw', async () => {
    const output = (await call(
      handlers(),
      await png(),
      'image/png; to=webp; width=20; quality=70; reply=raw',
    )) as BinaryOutput;
    expect(output.contentType).toBe('image/webp');
    expect(await sharp(output.data).metadata()).toMatchObject({ format: 'webp', width: 20, height: 15 });
  });

  it('sends a JSON file answered raw as text/json, since application/json is the platform answer type', async () => {
    const output = (await call(
      handlers(),
      Buffer.from('a,b\n1,2\n'),
      'text/csv; to=json; reply=raw',
    )) as BinaryOutput;
    expect(output.contentType).toBe('text/json; charset=utf-8');
    expect(JSON.parse(Buffer.from(output.data).toString('utf8'))).toEqual([{ a: '1', b: '2' }]);
  });

  it('sniffs the format of application/octet-stream, JSON included', async () => {
    const image = (await call(
      handlers(),
      await png(),
      'application/octet-stream; to=jpeg',
    )) as ConvertDocumentOutput;
    expect(image).toMatchObject({
      format: 'jpeg',
      mediaType: 'image/jpeg',
      metadata: { from: 'png', width: 40, height: 30 },
    });
    const csv = (await call(
      handlers(),
      Buffer.from('[{"a":1}]'),
      'application/octet-stream; to=csv',
    )) as ConvertDocumentOutput;
    expect(csv).toMatchObject({ text: 'a\r\n1', metadata: { from: 'json' } });
  });

  it('reads text in the charset the media type names', async () => {
    const output = (await call(
      handlers(),
      Buffer.from('caf\xe9 cr\xe8me', 'latin1'),
      'text/html; charset=windows-1252; to=text',
    )) as ConvertDocumentOutput;
    expect(output.text).toBe('café crème\n');
  });

  it.each([
    [
      'image/png',
      'INVALID_INPUT',
      'content-type: name the format to produce as a parameter, e.g. "image/png; to=jpeg" (over HTTP: ?to=jpeg)',
    ],
    [
      'image/png; to=gif',
      'INVALID_INPUT',
      'content-type parameter to: must be one of html, text, pdf, csv, json, png, jpeg, webp, avif, tiff (got "gif")',
    ],
    [
      'image/png; to=webp; colour=red',
      'INVALID_INPUT',
      'content-type parameter colour: unknown; known: to, reply, charset, title, pagesize, width, height, fit, quality',
    ],
    ['image/png; to=webp; width=wide', 'INVALID_INPUT', 'content-type parameter width: must be integer'],
    ['image/png; to=webp; quality=0', 'INVALID_INPUT', 'content-type parameter quality: must be >= 1'],
    ['image/png; to=webp; to=png', 'INVALID_INPUT', 'content-type parameter to: give it once'],
    [
      'image/png; to=webp; title="open',
      'INVALID_INPUT',
      'content-type parameter title: a quoted value is not closed',
    ],
    [
      'text/plain; to=pdf; charset=klingon',
      'UNSUPPORTED_FORMAT',
      'content-type parameter charset: "klingon" is no encoding this worker reads',
    ],
  ])('refuses %s with %s', async (contentType, code, message) => {
    const runner = new RecordingRunner();
    expect(await failure(call(handlers(runner), await png(), contentType))).toEqual({ code, message });
    expect(runner.jobs).toEqual([]);
  });
});

describe('convert.document over JSON', () => {
  it('takes text and answers text', async () => {
    const output = (await call(handlers(), {
      to: 'html',
      from: 'markdown',
      text: '# Hi',
    })) as ConvertDocumentOutput;
    expect(output.text).toContain('<h1>Hi</h1>');
    expect(output.metadata).toMatchObject({ from: 'markdown', bytesIn: 4 });
  });

  it('takes base64 content, sniffs its format and answers base64', async () => {
    const content = (await png()).toString('base64');
    const output = (await call(handlers(), {
      to: 'avif',
      content,
      options: { width: 8 },
    })) as ConvertDocumentOutput;
    expect(output).toMatchObject({
      format: 'avif',
      mediaType: 'image/avif',
      metadata: { from: 'png', width: 8, height: 6 },
    });
    expect((await sharp(Buffer.from(output.content ?? '', 'base64')).metadata()).width).toBe(8);
  });

  it('refuses a binary format sent as text, base64 of a bad length, and an empty file', async () => {
    expect(await failure(call(handlers(), { to: 'text', from: 'pdf', text: '%PDF-1.7' }))).toEqual({
      code: 'INVALID_INPUT',
      message: 'text: carries markdown, html, text, csv, json only; send a pdf file base64 in content',
    });
    expect(await failure(call(handlers(), { to: 'pdf', from: 'text', content: 'aGk' }))).toEqual({
      code: 'INVALID_INPUT',
      message: 'content: is not base64 (its length is not a multiple of 4)',
    });
    expect(await failure(call(handlers(), { to: 'pdf', from: 'text', content: '' }))).toEqual({
      code: 'INVALID_INPUT',
      message: 'content: is empty',
    });
  });
});

describe('formats, declared and sniffed', () => {
  it('refuses a declared format the bytes contradict, naming both', async () => {
    const jpeg = await sharp(await png())
      .jpeg()
      .toBuffer();
    expect(await failure(call(handlers(), jpeg, 'image/png; to=webp'))).toEqual({
      code: 'UNSUPPORTED_FORMAT',
      message: 'content: declared png (content-type image/png) but the bytes are jpeg',
    });
    expect(
      await failure(call(handlers(), { to: 'text', from: 'pdf', content: jpeg.toString('base64') })),
    ).toEqual({
      code: 'UNSUPPORTED_FORMAT',
      message: 'content: declared pdf (from) but the bytes are jpeg',
    });
    expect(await failure(call(handlers(), Buffer.from('# notes'), 'application/pdf; to=text'))).toEqual({
      code: 'UNSUPPORTED_FORMAT',
      message: 'content: declared pdf (content-type application/pdf) but the bytes are text',
    });
  });

  it('refuses a pair it does not convert, listing what the source converts to', async () => {
    expect(await failure(call(handlers(), await pdfOf('x'), 'application/pdf; to=html'))).toEqual({
      code: 'UNSUPPORTED_FORMAT',
      message: 'pdf -> html: not a pair this worker converts; pdf converts to text',
    });
  });

  it('refuses bytes it cannot name when no format is declared', async () => {
    expect(
      await failure(call(handlers(), Buffer.from([0, 1, 2, 3, 250]), 'application/octet-stream; to=text')),
    ).toEqual({
      code: 'UNSUPPORTED_FORMAT',
      message: 'content: the format cannot be told from the bytes; name it (from, or the content type)',
    });
  });
});

describe('limits', () => {
  it('converts a 49 MiB file', async () => {
    // An uncompressed TIFF of 4096 x 4200 pixels: 49.2 MiB.
    const tiff = await sharp({ create: { width: 4096, height: 4200, channels: 3, background: '#808080' } })
      .tiff({ compression: 'none' })
      .toBuffer();
    expect(tiff.length).toBeGreaterThan(49 * MIB);
    expect(tiff.length).toBeLessThan(50 * MIB);
    const output = (await call(handlers(), tiff, 'image/tiff; to=jpeg; quality=50')) as ConvertDocumentOutput;
    expect(output.metadata).toMatchObject({ from: 'tiff', bytesIn: tiff.length, width: 4096, height: 4200 });
  });

  it('refuses a 51 MiB file with PAYLOAD_TOO_LARGE before any work, raw or base64', async () => {
    const runner = new RecordingRunner();
    const big = Buffer.alloc(51 * MIB, 0x41);
    expect(await failure(call(handlers(runner), big, 'text/plain; to=pdf'))).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: `content: ${51 * MIB} bytes is more than this worker takes (${50 * MIB} bytes, CRANK_CONVERT_MAX_BYTES)`,
    });
    const small = handlers(runner, { maxInputBytes: 1000 });
    const base64 = Buffer.alloc(1001).toString('base64');
    expect((await failure(call(small, { to: 'pdf', from: 'text', content: base64 }))).code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
    expect((await failure(call(small, { to: 'pdf', text: 'é'.repeat(501) }))).code).toBe('PAYLOAD_TOO_LARGE');
    expect(runner.jobs).toEqual([]);
  });

  it('refuses a JSON answer larger than a message, and sends it raw', async () => {
    const target = handlers(answering(Buffer.alloc(48 * MIB)));
    expect(await failure(call(target, await png(), 'image/png; to=png'))).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: `output: ${48 * MIB} bytes in base64 is more than one answer carries (${47 * MIB} bytes); reply=raw answers with the file alone, up to 63 MiB`,
    });
    const raw = (await call(target, await png(), 'image/png; to=png; reply=raw')) as BinaryOutput;
    expect(raw.data.byteLength).toBe(48 * MIB);
  });

  it('gives up on a conversion after the timeout, aborting its work', async () => {
    jest.useFakeTimers();
    const runner = new RecordingRunner(stuck);
    const outcome = failure(call(handlers(runner, { timeoutMs: 5_000 }), await png(), 'image/png; to=webp'));
    await jest.advanceTimersByTimeAsync(5_000);
    expect(await outcome).toEqual({
      code: 'DEADLINE_EXCEEDED',
      message:
        'convert: gave up after 5000 ms (CRANK_CONVERT_TIMEOUT_MS); the file may be too large or too complex',
    });
    expect(runner.signals[0]?.aborted).toBe(true);
  });

  it('passes a cancel on to the conversion', async () => {
    const runner = new RecordingRunner(stuck);
    const abort = new AbortController();
    const outcome = failure(call(handlers(runner), await png(), 'image/png; to=webp', abort.signal));
    await new Promise((resolve) => setImmediate(resolve));
    abort.abort(new CapabilityError('CANCELLED', 'the caller cancelled the call'));
    expect(await outcome).toEqual({ code: 'CANCELLED', message: 'the caller cancelled the call' });
    expect(runner.signals[0]?.aborted).toBe(true);
  });

  it('closes its threads on shutdown', async () => {
    const runner = new RecordingRunner();
    await handlers(runner).onApplicationShutdown();
    expect(runner.closed).toBe(true);
  });
});
