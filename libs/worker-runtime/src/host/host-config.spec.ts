import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { HostConfigError } from './config-source.js';
import { loadHostConfig, parseHostConfig, type HostConfigContext } from './host-config.js';

/** A machine where `python3` and `node` are on PATH and every path named exists. */
const MACHINE: HostConfigContext = {
  baseDir: '/srv/host',
  env: { PATH: '/usr/bin:/bin', HOME: '/home/crank', CRANK_BOOTSTRAP_TOKEN: 'secret', CRANK_DATA_DIR: '/x' },
  isExecutable: (path) =>
    ['/usr/bin/python3', '/usr/bin/node', '/srv/host/py/.venv/bin/python'].includes(path),
  isDirectory: (path) => ['/srv/host', '/srv/host/py'].includes(path),
  isFile: (path) => path.endsWith('.py'),
};

const DEFINITION = `
        id: text.stats
        version: 1.0.0
        inputSchema: { type: object }
        outputSchema: { type: object }
        errorCodes: [INVALID_INPUT]`;

function parse(text: string, context: HostConfigContext = MACHINE) {
  return parseHostConfig(text, 'host.yaml', context);
}

function issuesOf(text: string, context: HostConfigContext = MACHINE): string[] {
  try {
    parse(text, context);
  } catch (error) {
    expect(error).toBeInstanceOf(HostConfigError);
    return (error as HostConfigError).message.split('\n');
  }
  throw new Error('the config was accepted');
}

describe('parseHostConfig', () => {
  it('fills defaults, resolves the interpreter and script against cwd, and builds the environment', () => {
    const config = parse(`
workers:
  - name: stats
    cwd: py
    interpreter: .venv/bin/python
    command: stats.py
    args: [--fast, 3]
    env: { LANG: C.UTF-8 }
    capabilities:
      - ${DEFINITION.trim()}
`);
    const [worker] = config.workers;
    expect(worker).toMatchObject({
      name: 'stats',
      workerId: undefined,
      command: '/srv/host/py/.venv/bin/python',
      args: ['/srv/host/py/stats.py', '--fast', '3'],
      cwd: '/srv/host/py',
      mode: 'per-task',
      timeoutMs: 30_000,
      maxRetries: 0,
      concurrency: 1,
      maxOutputBytes: 16 * 1024 * 1024,
    });
    // The host's own settings (the bootstrap token above all) are not passed on.
    expect(worker?.env).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/home/crank',
      PYTHONUNBUFFERED: '1',
      LANG: 'C.UTF-8',
    });
  });

  it("gives each capability the worker's concurrency and the host's PAYLOAD_TOO_LARGE where the catalog allows it", () => {
    const config = parse(`
workers:
  - name: mixed
    mode: pool
    command: python3
    concurrency: 3
    capabilities:
      - ${DEFINITION.trim()}
      - catalog: classify.sentiment
      - catalog: debug.echo@^1
`);
    const [stats, sentiment, echo] = config.workers[0]?.capabilities ?? [];
    expect(stats?.definition).toMatchObject({
      errorCodes: ['INVALID_INPUT', 'PAYLOAD_TOO_LARGE'],
      resources: { maxConcurrency: 3 },
    });
    // The catalog entry of classify.sentiment does not list PAYLOAD_TOO_LARGE: declaring it would be refused.
    expect(sentiment?.definition.errorCodes).toEqual(['INVALID_INPUT']);
    expect(echo?.key).toBe('debug.echo@1.0.0');
    expect(echo?.definition.resources.maxConcurrency).toBe(3);
  });

  it('names the line and the field of every problem, in file order', () => {
    expect(
      issuesOf(`
workers:
  - name: Stats
    mode: batch
    command: python4
    timeoutMs: -1
    colour: blue
    capabilities:
      - catalog: debug.nope
      - id: text.stats
        version: 1.0.0
        inputSchema: { type: object }
        outputSchema: { type: object }
        streaming: output
`),
    ).toEqual([
      'host.yaml:3: workers[0].name: must be a lowercase DNS label of at most 48 characters (got "Stats")',
      'host.yaml:4: workers[0].mode: must be "per-task" or "pool" (got "batch")',
      'host.yaml:5: workers[0].command: "python4" is not found on PATH',
      'host.yaml:6: workers[0].timeoutMs: must be an integer from 1 to 86400000 (got -1)',
      'host.yaml:7: workers[0].colour: is not a known field (known: name, workerId, capabilities, command, args, interpreter, cwd, env, mode, timeoutMs, maxRetries, concurrency, maxOutputBytes, grpcPort, httpPort)',
      expect.stringMatching(
        /^host\.yaml:9: workers\[0\]\.capabilities\[0\]\.catalog: "debug\.nope" is not in the catalog \(it has: /,
      ),
      'host.yaml:14: workers[0].capabilities[1].streaming: crank-host serves unary capabilities only (got "output")',
    ]);
  });

  it('reports the fields of a capability definition at their own lines', () => {
    expect(
      issuesOf(`
workers:
  - name: stats
    command: python3
    capabilities:
      - id: stats
        version: "1"
        inputSchema: { type: object }
`),
    ).toEqual([
      expect.stringMatching(/^host\.yaml:6: workers\[0\]\.capabilities\[0\]\.id: must be "verb\.noun"/),
      // A missing field is reported at the line of the mapping that lacks it.
      'host.yaml:6: workers[0].capabilities[0].outputSchema: is required',
      'host.yaml:7: workers[0].capabilities[0].version: must be a semver version (got "1")',
    ]);
  });

  it('reads JSON too, with lines', () => {
    expect(
      issuesOf(`{
  "workers": [
    { "name": "a", "command": "node", "capabilities": [{ "catalog": "debug.echo" }],
      "mode": "pool", "concurrency": 0 }
  ]
}`),
    ).toEqual(['host.yaml:4: workers[0].concurrency: must be an integer from 1 to 1024 (got 0)']);
  });

  it('names the line of a syntax error, and refuses duplicate keys and names', () => {
    expect(issuesOf('workers:\n  - name: a\n    name: b\n')).toEqual([
      'host.yaml:3: (syntax): Map keys must be unique',
    ]);
    expect(issuesOf('workers:\n  - name: a\n  command: [\n')[0]).toMatch(/^host\.yaml:3: \(syntax\): /);
    const twice = `
workers:
  - { name: a, command: node, capabilities: [{ catalog: debug.echo }] }
  - { name: a, command: node, capabilities: [{ catalog: debug.echo }] }
`;
    expect(issuesOf(twice)).toEqual(['host.yaml:4: workers[1].name: "a" is used twice']);
    expect(issuesOf('workers: []')).toEqual(['host.yaml:1: workers: must be a list of at least one worker']);
  });
});

describe('loadHostConfig', () => {
  it('loads the example config of this repository', () => {
    const config = loadHostConfig(
      join(import.meta.dirname, '../../../../examples/subprocess/crank-host.yaml'),
    );
    expect(config.workers.map((w) => [w.name, w.mode, w.capabilities.map((c) => c.key)])).toEqual([
      ['text-stats', 'pool', ['text.stats@1.0.0']],
      ['slugify', 'per-task', ['text.slugify@1.0.0']],
    ]);
  });

  it('names a file it cannot read', () => {
    expect(() => loadHostConfig('/nonexistent/host.yaml')).toThrow(
      /^\/nonexistent\/host\.yaml:1: \(file\): cannot be read \(ENOENT/,
    );
  });
});
