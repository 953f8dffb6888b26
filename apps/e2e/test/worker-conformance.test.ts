import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runConformanceCli } from '@crank/testkit';
import { Cluster, ECHO_MAIN } from './harness.js';

const root = join(import.meta.dirname, '../../..');
const HOST_BIN = join(root, 'libs/worker-runtime/bin/crank-host.js');
const EXAMPLE_CONFIG = join(root, 'examples/subprocess/crank-host.yaml');
const IGNORES_SIGTERM = join(root, 'libs/testkit/test/broken/ignores-sigterm.mjs');

/**
 * The worker apps of this repository the kit must pass: each built main, a valid input where one
 * generated from the schema would be refused (a schema cannot say "an RFC 5322 message"), and for
 * each capability with a knob that makes it slow, an input taking a second or more (deadline,
 * cancellation, drain; without one those cases are skipped). Add a worker app here once it builds.
 */
const WORKER_APPS: {
  name: string;
  main: string;
  inputs: Record<string, unknown>;
  slowInputs: Record<string, unknown>;
}[] = [
  {
    name: 'worker-echo',
    main: ECHO_MAIN,
    inputs: {},
    slowInputs: { 'debug.echo': { message: 'slow', delayMs: 1_500 } },
  },
  {
    name: 'worker-doc-converter',
    main: join(root, 'apps/worker-doc-converter/dist/main.js'),
    inputs: { 'convert.document': { from: 'markdown', to: 'html', text: '# Notes\n\nConformance.' } },
    slowInputs: {},
  },
  {
    name: 'worker-email-parser',
    main: join(root, 'apps/worker-email-parser/dist/main.js'),
    inputs: {
      'parse.email': { raw: 'From: Ann <ann@example.com>\r\nSubject: hi\r\n\r\nHello.\r\n' },
    },
    slowInputs: {},
  },
  {
    name: 'worker-streaming',
    main: join(root, 'apps/worker-streaming/dist/main.js'),
    inputs: {
      'stream.aggregate': [
        { query: { window: { type: 'tumbling', sizeMs: 1000 } } },
        { ts: 0, key: 'k', value: 1 },
      ],
      // No classifier runs in this cluster: each event is answered unclassified (UNAVAILABLE).
      'stream.classify': [{ query: { classifier: 'sentiment' } }, { ts: 0, text: 'A fine day.' }],
    },
    slowInputs: {},
  },
  {
    name: 'worker-email-classifier',
    main: join(root, 'apps/worker-email-classifier/dist/main.js'),
    // A generated input may carry both the whole message and its parts, which the schema refuses.
    inputs: {
      'classify.email': { subject: 'Lunch?', from: 'ann@example.com', body: 'Noon at the usual place?' },
    },
    slowInputs: {},
  },
  {
    name: 'worker-image-classifier-cpu',
    main: join(root, 'apps/worker-image-classifier-cpu/dist/main.js'),
    inputs: {
      'classify.image': {
        image: readFileSync(join(root, 'apps/worker-image-classifier-cpu/test/fixtures/cats.png')).toString(
          'base64',
        ),
      },
    },
    slowInputs: {},
  },
];

/**
 * `crank-conformance grpc` against real worker processes it starts itself, through a real
 * controller: the worker apps of this repository and crank-host pass, a broken worker fails for
 * its reason.
 */
describe('crank-conformance grpc, starting the worker itself', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.start({ heartbeatMs: 200 });
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
  });

  async function conformance(args: string[], command: string[]): Promise<{ code: number; lines: string[] }> {
    let out = '';
    const code = await runConformanceCli(
      ['grpc', '--controller', cluster.grpcAddress, '--data-dir', cluster.dataDir, ...args, '--', ...command],
      {
        stdout: { write: (text: string) => (out += text) },
        stderr: { write: (text: string) => (out += text) },
        env: {
          ...cluster.env,
          CRANK_HOME: join(cluster.dataDir, 'conformance-home'),
          CRANK_DRAIN_MS: '10000',
        },
      },
    );
    return { code, lines: out.trimEnd().split('\n') };
  }

  it.each(WORKER_APPS)(
    'passes $name, drain on SIGTERM included',
    async ({ main, inputs, slowInputs }) => {
      const flags = (flag: string, byId: Record<string, unknown>): string[] =>
        Object.entries(byId).flatMap(([id, input]) => [flag, `${id}=${JSON.stringify(input)}`]);
      const { code, lines } = await conformance(
        [...flags('--input', inputs), ...flags('--slow-input', slowInputs)],
        [process.execPath, main],
      );
      expect(lines.filter((line) => line.startsWith('FAIL '))).toEqual([]);
      // Without a slow input, only the deadline and cancellation cases may skip.
      expect(
        lines.filter((line) => line.startsWith('SKIP ') && !/no `(slowInput|cancellation)`/.test(line)),
      ).toEqual([]);
      expect(lines.at(-1)).toMatch(/^\d+ passed, 0 failed(, \d+ skipped)?$/);
      expect(lines).toContainEqual(
        expect.stringMatching(
          /^PASS on SIGTERM the worker finishes its calls, deregisters and exits 0 \(exited 0 \d+ ms after SIGTERM(, the call in flight answered)?\)$/,
        ),
      );
      expect(code).toBe(0);
    },
    120_000,
  );

  it('passes crank-host serving the examples (two workers, one per script)', async () => {
    const { code, lines } = await conformance(
      ['--workers', '2'],
      [process.execPath, HOST_BIN, EXAMPLE_CONFIG],
    );
    expect(lines.filter((line) => line.startsWith('FAIL '))).toEqual([]);
    expect(lines.at(-1)).toMatch(/^\d+ passed, 0 failed, \d+ skipped$/);
    expect(lines).toContainEqual(expect.stringMatching(/^PASS text-stats-[0-9a-f]{6} text\.stats@1\.0\.0: /));
    expect(code).toBe(0);
  }, 120_000);

  it('fails a worker that SIGTERM kills outright', async () => {
    const { code, lines } = await conformance(
      ['--slow-input', 'debug.echo={"message":"slow","delayMs":1500}'],
      [process.execPath, IGNORES_SIGTERM],
    );
    expect(lines.filter((line) => line.startsWith('FAIL '))).toEqual([
      'FAIL on SIGTERM the worker finishes its calls, deregisters and exits 0: was ended by the SIGTERM itself: it has no handler, so calls in flight are cut and it never deregisters (call worker.stop() on SIGTERM)',
    ]);
    expect(code).toBe(1);
  }, 120_000);
});
