import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ParseEmailOutput, ParseMboxRecord, ParseMboxTotals } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import { Cluster, eventually, type RunningProcess } from './harness.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const EMAIL_PARSER_MAIN = join(root, 'apps/worker-email-parser/dist/main.js');
const GEN_MBOX = join(root, 'tools/gen-mbox/gen-mbox.mjs');
/** The bound on the worker, whatever the size of the mbox. */
const RSS_MAX_MB = 200;

/** What tools/gen-mbox says it wrote. */
interface Manifest {
  bytes: number;
  messages: number;
  attachments: number;
  garbage: { segments: number; bytes: number };
  senders: Record<string, number>;
  bigMessage?: { index: number; offset: number; size: number };
}

/** Resident memory of a process, read from outside it (Linux /proc), in MB. */
function rssMb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

/** Samples a process's RSS every 50 ms until stopped; answers the peak. */
function watchRss(pid: number): { stop(): number } {
  let peak = rssMb(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 50);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, rssMb(pid));
    },
  };
}

/** An HTTP exchange with the controller: status, headers, and the body as NDJSON records. */
interface StreamAnswer {
  status: number;
  headers: IncomingMessage['headers'];
  records: Record<string, unknown>[];
}

function readRecords(response: IncomingMessage): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (text += chunk));
    response.on('error', reject);
    response.resume(); // a 'data' listener alone does not restart a response paused on purpose
    response.on('end', () => {
      try {
        resolve(
          text
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => JSON.parse(line) as Record<string, unknown>),
        );
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}

/** POSTs `body` (piped as it is read) to `url` and reads the answer. */
function post(
  url: string,
  body: Readable | Buffer,
  headers: Record<string, string>,
  method = 'POST',
): Promise<StreamAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (response) => {
      readRecords(response).then(
        (records) => resolve({ status: response.statusCode ?? 0, headers: response.headers, records }),
        reject,
      );
    });
    req.on('error', reject);
    if (Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

async function* fileChunks(path: string): AsyncGenerator<Buffer> {
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) yield chunk as Buffer;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');
const lines = (eol: string, ...parts: string[]): string => parts.join(eol);
const MENU = Buffer.from('%PDF-1.7 the menu\n'.repeat(50));

/** One mbox with each case the parser must read: garbage, mboxrd quoting, broken parts, no final newline. */
function fixtureMbox(eol: string): string {
  return lines(
    eol,
    'An export tool wrote this line before the first message.',
    'From ann@example.com Fri Nov 27 12:00:00 2026',
    'From: =?UTF-8?Q?Ann_M=C3=BCller?= <ann@example.com>',
    'To: Bob <bob@example.org>, carol@example.net',
    `Subject: =?ISO-8859-1?B?${Buffer.from('Café', 'latin1').toString('base64')}?= =?UTF-8?Q?_=E2=82=AC5?=`,
    'Date: Fri, 27 Nov 2026 12:00:00 +0000',
    'Message-ID: <menu@example.com>',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    '',
    '>From the kitchen: lunch at noon.',
    '>>From the archive.',
    '--b',
    "Content-Disposition: attachment; filename*=UTF-8''men%C3%BC.pdf",
    'Content-Type: application/pdf',
    'Content-Transfer-Encoding: base64',
    '',
    ...(MENU.toString('base64').match(/.{1,76}/g) ?? []),
    '--b--',
    '',
    'From MAILER-DAEMON Fri Nov 27 12:00:30 2026',
    '\x01\x02 not a message at all',
    '',
    'From dave@example.com Fri Nov 27 12:01:00 2026',
    'From: dave@example.com',
    'Subject: broken parts',
    'Date: the day after tomorrow',
    'Content-Type: multipart/alternative; boundary=never-closed',
    '',
    '--never-closed',
    'Content-Type: text/plain',
    'Content-Transfer-Encoding: base64',
    '',
    `${b64('hello ')}!!*${b64('there')}`,
    '',
    'From erin@example.org Fri Nov 27 12:02:00 2026',
    'From: erin@example.org',
    'Subject: the last one has no final line break',
    '',
    'the end',
  );
}

describe('worker-email-parser', () => {
  let cluster: Cluster;
  let worker: RunningProcess;
  let client: CrankClient;
  let scratch: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'crank-mbox-'));
    cluster = await Cluster.start();
    worker = cluster.spawn('email-parser', EMAIL_PARSER_MAIN, { CRANK_DRAIN_MS: '2000' });
    await worker.event('registered');
    client = await cluster.client();
  });

  afterAll(async () => {
    await cluster?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const mboxOverGrpc = async (
    mbox: AsyncIterable<Buffer> | Buffer[],
    options?: object,
  ): Promise<ParseMboxRecord[]> => {
    const records: ParseMboxRecord[] = [];
    const input = options ? prepend(options, mbox) : mbox;
    for await (const record of client.invokeStream<ParseMboxRecord>('parse.mbox', input, {
      contentType: 'application/mbox',
    })) {
      records.push(record);
    }
    return records;
  };

  describe('parse.email', () => {
    const message = lines(
      '\r\n',
      'From: =?UTF-8?B?SsO8cmdlbg==?= <jurgen@example.com>',
      'To: bob@example.org',
      'Cc: =?ISO-8859-1?Q?Fran=E7ois?= <fr@example.net>',
      'Subject: =?UTF-8?Q?Men=C3=BC?=',
      'Date: Fri, 27 Nov 2026 12:00:00 +0100',
      'Message-ID: <m1@example.com>',
      'Content-Type: multipart/mixed; boundary=x',
      '',
      '--x',
      'Content-Type: multipart/alternative; boundary=y',
      '',
      '--y',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Caf=C3=A9 at noon',
      '--y',
      'Content-Type: text/html',
      '',
      '<p>Caf&eacute; at noon</p>',
      '--y--',
      '--x',
      'Content-Type: application/pdf; name="menu.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      MENU.toString('base64'),
      '--x',
      'Content-Type: text/plain; charset=x-unknown',
      '',
      'odd charset',
      '--x--',
      '',
    );
    const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
    const expected = {
      messageId: 'm1@example.com',
      from: { name: 'Jürgen', address: 'jurgen@example.com' },
      to: [{ address: 'bob@example.org' }],
      cc: [{ name: 'François', address: 'fr@example.net' }],
      subject: 'Menü',
      date: '2026-11-27T11:00:00.000Z',
      attachments: [
        { filename: 'menu.pdf', contentType: 'application/pdf', size: MENU.length, sha256: sha256(MENU) },
      ],
      warnings: [
        { code: 'unknown-charset', message: 'charset "x-unknown" is unknown; read as UTF-8', part: '3' },
      ],
      textBody: 'Café at noon\nodd charset',
      htmlBody: '<p>Caf&eacute; at noon</p>',
    };

    it('parses one message over gRPC: headers decoded, bodies, attachment hash, warnings', async () => {
      const { output } = await client.invoke<ParseEmailOutput>('parse.email', { raw: message });
      expect(output).toMatchObject(expected);
      expect(output.headers).toMatchObject({ subject: 'Menü', cc: 'François <fr@example.net>' });
    });

    it('takes the raw message as message/rfc822 over HTTP', async () => {
      const answer = await cluster.http('/v1/invoke/parse.email', {
        method: 'POST',
        headers: { 'content-type': 'message/rfc822' },
        body: message,
      });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject(expected);
    });

    it('refuses bytes that are no message with INVALID_INPUT', async () => {
      const answer = await cluster.http('/v1/invoke/parse.email', {
        method: 'POST',
        headers: { 'content-type': 'message/rfc822' },
        body: '\x00\x01 binary',
      });
      expect([answer.status, (answer.body as { error: { code: string } }).error.code]).toEqual([
        400,
        'INVALID_INPUT',
      ]);
    });
  });

  describe('parse.mbox fixtures', () => {
    it('reads garbage, mboxrd quoting, broken parts and a last message without a line break (LF)', async () => {
      const records = await mboxOverGrpc([Buffer.from(fixtureMbox('\n'))]);
      expect(
        records.map((r) => [r.type, r.type === 'garbage' ? r.reason : r.type === 'message' ? r.index : '']),
      ).toEqual([
        ['garbage', 'preamble'],
        ['message', 0],
        ['garbage', 'no-header'],
        ['message', 1],
        ['message', 2],
        ['totals', ''],
      ]);
      const [, first, , broken, last, totals] = records;
      expect(first).toMatchObject({
        from: { name: 'Ann Müller', address: 'ann@example.com' },
        to: [{ name: 'Bob', address: 'bob@example.org' }, { address: 'carol@example.net' }],
        subject: 'Café €5',
        date: '2026-11-27T12:00:00.000Z',
        attachments: [{ filename: 'menü.pdf', contentType: 'application/pdf', size: MENU.length }],
        warnings: [],
        textPreview: 'From the kitchen: lunch at noon. >From the archive.',
      });
      expect(broken).toMatchObject({ subject: 'broken parts', textPreview: 'hello there' });
      expect(broken?.type === 'message' && broken.warnings.map((w) => w.code).sort()).toEqual([
        'bad-base64',
        'bad-date',
        'unterminated-multipart',
      ]);
      expect(last).toMatchObject({ textPreview: 'the end', warnings: [] });
      expect(totals).toMatchObject({
        totals: { messages: 3, malformed: 1, attachments: 1, garbage: { segments: 2 }, complete: true },
      });
    });

    it('reads a CRLF mbox the same way, cut into chunks of any size', async () => {
      const lf = await mboxOverGrpc([Buffer.from(fixtureMbox('\n'))]);
      const crlf = Buffer.from(fixtureMbox('\r\n'));
      const pieces = [1, 7, 64, 1000].flatMap((size) => {
        const out: Buffer[] = [];
        for (let at = 0; at < crlf.length; at += size) out.push(crlf.subarray(at, at + size));
        return [out];
      });
      for (const chunks of pieces) {
        const records = await mboxOverGrpc(chunks);
        // Offsets, sizes and byte counts differ by the CR bytes; everything else is the same.
        const strip = (r: ParseMboxRecord): unknown =>
          r.type === 'totals'
            ? { ...r.totals, bytes: 0, garbage: { ...r.totals.garbage, bytes: 0 } }
            : { ...r, offset: 0, size: 0 };
        expect(records.map(strip)).toEqual(lf.map(strip));
      }
    });

    it('takes options as the first chunk', async () => {
      const records = await mboxOverGrpc([Buffer.from(fixtureMbox('\n'))], {
        previewChars: 4,
        includeHeaders: true,
        maxMessages: 1,
      });
      expect(records.map((r) => r.type)).toEqual(['garbage', 'message', 'totals']);
      expect(records[1]).toMatchObject({
        textPreview: 'From',
        headers: { 'message-id': '<menu@example.com>' },
      });
      expect(records[2]).toMatchObject({ totals: { messages: 1, complete: false } });
    });
  });

  describe('a generated 200 MB mbox with a 100 MB message', () => {
    let file: string;
    let manifest: Manifest;

    beforeAll(async () => {
      file = join(scratch, 'big.mbox');
      const { stdout } = await promisify(execFile)(process.execPath, [
        GEN_MBOX,
        ...['--size', '200MB', '--seed', '11', '--big-message-mb', '100', '--garbage', '--out', file],
      ]);
      manifest = JSON.parse(stdout) as Manifest;
    }, 120_000);

    const expectTotals = (records: ParseMboxRecord[]): void => {
      const totals = records.at(-1);
      expect(totals?.type).toBe('totals');
      const expectedDomains = Object.entries(manifest.senders).sort((a, b) => b[1] - a[1])[0];
      expect((totals as { totals: ParseMboxTotals }).totals).toMatchObject({
        messages: manifest.messages,
        bytes: manifest.bytes,
        malformed: 0,
        attachments: manifest.attachments,
        garbage: manifest.garbage,
        topSenderDomains: expect.arrayContaining([
          { domain: expectedDomains?.[0], count: expectedDomains?.[1] },
        ]),
        complete: true,
      });
      const big = records.find((r) => r.type === 'message' && r.index === manifest.bigMessage?.index);
      expect(big).toMatchObject({
        offset: manifest.bigMessage?.offset,
        size: manifest.bigMessage?.size,
        attachments: [{ filename: 'big.mp4', contentType: 'video/mp4', size: 100 * 1024 * 1024 }],
      });
      expect(records.filter((r) => r.type === 'message')).toHaveLength(manifest.messages);
    };

    it('streams through the controller over gRPC, the worker under 200 MB of RSS', async () => {
      const rss = watchRss(worker.child.pid as number);
      const records = await mboxOverGrpc(fileChunks(file));
      const peakMb = rss.stop();
      expectTotals(records);
      expect(peakMb).toBeLessThan(RSS_MAX_MB);
    }, 180_000);

    it('streams over HTTP: a chunked body in, NDJSON out (PUT, as curl -T sends)', async () => {
      const rss = watchRss(worker.child.pid as number);
      const answer = await post(
        `${cluster.httpUrl}/v1/stream/parse.mbox`,
        createReadStream(file),
        { 'transfer-encoding': 'chunked' },
        'PUT',
      );
      const peakMb = rss.stop();
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('application/x-ndjson');
      expect(answer.headers['x-crank-version']).toBe('2.0.0');
      expectTotals(answer.records as unknown as ParseMboxRecord[]);
      expect(peakMb).toBeLessThan(RSS_MAX_MB);
    }, 180_000);
  });

  describe('back-pressure', () => {
    /** An mbox of `count` small messages, made as it is read; `pulled()` says how far it got. */
    function tinyMessages(count: number): { body: Readable; pulled(): number; bytes: number } {
      const one = (i: number): string =>
        `From a${i}@example.com Sat Nov 28 09:00:00 2026\nFrom: a${i}@example.com\nSubject: tiny ${i}\n\n${'word '.repeat(60)}\n\n`;
      let pulled = 0;
      const bytes = Array.from({ length: count }, (_, i) => Buffer.byteLength(one(i))).reduce(
        (a, b) => a + b,
        0,
      );
      async function* chunks(): AsyncGenerator<Buffer> {
        for (let i = 0; i < count; i += 100) {
          let text = '';
          for (let j = i; j < Math.min(count, i + 100); j++) text += one(j);
          const chunk = Buffer.from(text);
          pulled += chunk.length;
          yield chunk;
        }
      }
      return {
        body: Readable.from(chunks(), { objectMode: false, highWaterMark: 64 * 1024 }),
        pulled: () => pulled,
        bytes,
      };
    }

    /** Waits until `value()` stops growing (the same over two reads 500 ms apart). */
    const settles = async (value: () => number): Promise<number> => {
      let last = -1;
      await eventually(
        () => {
          const now = value();
          const still = now === last && now > 0;
          last = now;
          return still;
        },
        30_000,
        500,
      );
      return last;
    };

    it('an HTTP client that stops reading stops the upload, and nothing piles up', async () => {
      const count = 100_000;
      const source = tinyMessages(count);
      const req = request(`${cluster.httpUrl}/v1/stream/parse.mbox`, {
        method: 'POST',
        headers: { 'content-type': 'application/mbox' },
        agent: false,
      });
      const answered = new Promise<IncomingMessage>((resolve) => req.on('response', resolve));
      source.body.pipe(req);
      const response = await answered;
      response.pause(); // a reader that does not read
      const stalledAt = await settles(source.pulled);
      expect(stalledAt).toBeLessThan(source.bytes / 2);
      expect(rssMb(worker.child.pid as number)).toBeLessThan(RSS_MAX_MB);
      const records = await readRecords(response);
      expect(records.at(-1)).toMatchObject({
        type: 'totals',
        totals: { messages: count, bytes: source.bytes },
      });
    }, 120_000);

    it('a gRPC caller that stops reading stops the upload too', async () => {
      const count = 100_000;
      const source = tinyMessages(count);
      const stream = client.invokeStream<ParseMboxRecord>(
        'parse.mbox',
        source.body as AsyncIterable<Buffer>,
        {
          contentType: 'application/mbox',
        },
      );
      const records = stream[Symbol.asyncIterator]();
      await records.next();
      const stalledAt = await settles(source.pulled);
      expect(stalledAt).toBeLessThan(source.bytes / 2);
      let last: ParseMboxRecord | undefined;
      for (let next = await records.next(); !next.done; next = await records.next()) last = next.value;
      expect(last).toMatchObject({ type: 'totals', totals: { messages: count } });
    }, 120_000);
  });

  describe('the HTTP stream route', () => {
    it('refuses an unknown capability, a unary one and a media type the capability does not take', async () => {
      const unknown = await post(`${cluster.httpUrl}/v1/stream/no.such`, Buffer.from('x'), {});
      expect([unknown.status, unknown.records[0]?.['error']]).toMatchObject([404, { code: 'NOT_FOUND' }]);
      const unary = await post(`${cluster.httpUrl}/v1/stream/parse.email`, Buffer.from('x'), {});
      expect([unary.status, unary.records[0]?.['error']]).toMatchObject([
        409,
        { code: 'FAILED_PRECONDITION' },
      ]);
      const png = await post(`${cluster.httpUrl}/v1/stream/parse.mbox`, Buffer.from('x'), {
        'content-type': 'image/png',
      });
      expect([png.status, png.records[0]?.['error']]).toMatchObject([415, { code: 'UNSUPPORTED_FORMAT' }]);
    });

    it('ends the body with one typed error record when the call fails mid-stream', async () => {
      // NDJSON records: the first is the options, a second JSON record is refused by the handler.
      const answer = await post(
        `${cluster.httpUrl}/v1/stream/parse.mbox`,
        Buffer.from('{"previewChars":10}\n{"previewChars":20}\n'),
        { 'content-type': 'application/x-ndjson' },
      );
      expect(answer.status).toBe(200);
      expect(answer.records.at(-1)).toEqual({
        error: {
          code: 'INVALID_INPUT',
          message: 'options: send them as the first chunk, before the mbox bytes',
          details: expect.any(Object),
        },
      });
    });

    it('is documented in /docs', async () => {
      const docs = await cluster.http('/docs/json');
      const paths = (docs.body as { paths: Record<string, Record<string, unknown>> }).paths;
      expect(Object.keys(paths['/v1/stream/{capability}'] ?? {}).sort()).toEqual(['post', 'put']);
    });
  });
});

async function* prepend(
  first: object,
  rest: AsyncIterable<Buffer> | Buffer[],
): AsyncGenerator<object | Buffer> {
  yield first;
  yield* rest;
}
