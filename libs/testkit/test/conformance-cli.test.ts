import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runConformanceCli, startTestCluster, type TestCluster } from '../src/index.js';
import { waitPolitely } from './fixtures.js';

const EXAMPLES = join(import.meta.dirname, '../../../examples/subprocess');
const BROKEN = join(import.meta.dirname, 'broken/stdio');

/** Runs the CLI in this process; resolves with its exit status and what it wrote. */
async function cli(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; out: string[]; err: string }> {
  let out = '';
  let err = '';
  const code = await runConformanceCli(argv, {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    env: { PATH: process.env['PATH'], PYTHONDONTWRITEBYTECODE: '1', ...env },
  });
  return { code, out: out.trimEnd().split('\n'), err };
}

describe('crank-conformance stdio', () => {
  it('passes the examples of a crank-host config: a line per check, then the counts', async () => {
    const { code, out } = await cli(['stdio', '--config', join(EXAMPLES, 'crank-host.yaml')]);
    expect(out.at(-1)).toBe('16 passed, 0 failed');
    expect(out).toContain('PASS text-stats text.stats@1.0.0: every line on stdout is JSON');
    expect(out).toContain(
      'PASS slugify text.slugify@1.0.0: exit codes follow the protocol (0 after success, 2 after a refusal)',
    );
    expect(code).toBe(0);
  });

  it('fails a broken worker with the reason, and exits 1', async () => {
    const { code, out } = await cli([
      'stdio',
      '--type',
      'test.words',
      '--params',
      '{"text":"a b"}',
      '--',
      'python3',
      join(BROKEN, 'accepts-missing-id.py'),
    ]);
    expect(out).toContain(
      'FAIL a task without an id is refused with "success": false: answered "success": true to a task without an id',
    );
    expect(out.at(-1)).toBe('7 passed, 1 failed');
    expect(code).toBe(1);
  });

  it('exits 2 on a usage error, with the usage', async () => {
    const { code, err } = await cli(['stdio', '--mode', 'batch', '--', 'python3', 'x.py']);
    expect(code).toBe(2);
    expect(err).toMatch(/^crank-conformance: --mode: per-task or pool \(got "batch"\)\n\nusage:/);
    expect((await cli(['lint'])).code).toBe(2);
  });
});

describe('crank-conformance grpc', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster({ worker: { name: 'cli', capabilities: [waitPolitely] } });
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('checks a registered worker through the controller', async () => {
    const { code, out, err } = await cli(
      [
        'grpc',
        '--controller',
        cluster.grpcAddress,
        '--data-dir',
        cluster.dataDir,
        '--worker',
        cluster.worker.id,
        '--worker-http',
        cluster.worker.httpUrl,
        '--input',
        'test.wait-politely={"ms":1}',
        '--slow-input',
        'test.wait-politely={"ms":1500}',
      ],
      { CRANK_HOME: join(cluster.dataDir, 'cli-home') },
    );
    expect(err).toBe('');
    expect(out).toEqual([
      'PASS test.wait-politely@1.0.0: the given input is answered with a valid output',
      'PASS test.wait-politely@1.0.0: input that breaks the schema is refused',
      'PASS test.wait-politely@1.0.0: the worker answers grpc.health.v1 SERVING, for itself and for the capability',
      'PASS test.wait-politely@1.0.0: an unknown capability, and a version nobody offers, are NOT_FOUND',
      'PASS test.wait-politely@1.0.0: a call past its deadline ends with DEADLINE_EXCEEDED and frees its slot',
      'PASS test.wait-politely@1.0.0: as many calls at once as maxConcurrency are all answered (4 calls at once)',
      'PASS test.wait-politely@1.0.0: a cancelled call frees its slot and stops its handler',
      '7 passed, 0 failed',
    ]);
    expect(code).toBe(0);
  });
});
