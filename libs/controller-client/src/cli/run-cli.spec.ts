import { join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { CrankError } from '@crank/capabilities';
import { commandLine, runCli, type CliIo, type CommandLine, type Dispatch } from './run-cli.js';
import { USAGE, UsageError } from './usage.js';

interface TestIo extends CliIo {
  out(): string;
  err(): string;
}

function testIo(env: NodeJS.ProcessEnv = {}, signal = new AbortController().signal): TestIo {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return {
    stdin: Object.assign(Readable.from([]), { isTTY: true }),
    stdout,
    stderr,
    env,
    signal,
    out: () => out,
    err: () => err,
  };
}

const never: Dispatch = () => Promise.reject(new Error('no command should run'));

/** A built-in command that only reads its command line. */
const builtIn: Dispatch = (_command, context) => {
  commandLine(context);
  return Promise.resolve(0);
};

describe('runCli', () => {
  it.each([
    [['--help']],
    [['-h']],
    [['help']],
    [['--controller', 'x:1', '-h', 'invoke']],
    [['invoke', '--help']],
  ])('prints the usage to stdout and exits 0 for %j', async (argv) => {
    const io = testIo();
    await expect(runCli(argv, io, builtIn)).resolves.toBe(0);
    expect(io.out()).toBe(USAGE);
    expect(io.err()).toBe('');
  });

  it('prints the usage to stderr and exits 2 without a command', async () => {
    const io = testIo();
    await expect(runCli([], io, never)).resolves.toBe(2);
    expect(io.err()).toBe(USAGE);
    expect(io.out()).toBe('');
  });

  it.each([[['workers', '--bogus']], [['--bogus', 'workers']]])(
    'exits 2 with the message and the usage on stderr for the unknown option in %j',
    async (argv) => {
      const io = testIo();
      await expect(runCli(argv, io, builtIn)).resolves.toBe(2);
      expect(io.err()).toMatch(/^crank: Unknown option '--bogus'/);
      expect(io.err()).toContain(USAGE);
    },
  );

  it('hands a command the arguments after its name as given, for options of its own', async () => {
    let seen: string[] | undefined;
    const own: Dispatch = (_command, context) => {
      seen = context.argv;
      return Promise.resolve(0);
    };
    await expect(
      runCli(['--data-dir', 'd', 'keys', 'create', '--scopes', 'invoke'], testIo(), own),
    ).resolves.toBe(0);
    expect(seen).toEqual(['create', '--scopes', 'invoke']);
  });

  it('exits 2 when the command finds the command line wrong', async () => {
    const io = testIo();
    const unknown: Dispatch = (command) => Promise.reject(new UsageError(`unknown command "${command}"`));
    await expect(runCli(['frobnicate'], io, unknown)).resolves.toBe(2);
    expect(io.err()).toBe(`crank: unknown command "frobnicate"\n\n${USAGE}`);
  });

  it('prints a failed call as its CrankError JSON and exits 1', async () => {
    const io = testIo();
    const failing: Dispatch = () => Promise.reject(new CrankError('NOT_FOUND', 'no capability "x"'));
    await expect(runCli(['invoke', 'x'], io, failing)).resolves.toBe(1);
    expect(JSON.parse(io.err())).toMatchObject({
      error: { code: 'NOT_FOUND', message: 'no capability "x"' },
    });
  });

  it('exits 130 when Ctrl-C cancelled the command', async () => {
    const interrupted = new AbortController();
    const io = testIo({}, interrupted.signal);
    const cancelled: Dispatch = () => {
      interrupted.abort();
      return Promise.reject(new CrankError('CANCELLED', 'Cancelled on client'));
    };
    await expect(runCli(['invoke', 'x'], io, cancelled)).resolves.toBe(130);
    expect(io.err()).toBe('crank: cancelled\n');
  });

  it('reads the controller, the caller home and name from options before and after the command, then env', async () => {
    let seen: CommandLine | undefined;
    const record: Dispatch = (_command, context) => {
      seen = commandLine(context);
      return Promise.resolve(0);
    };
    const env = { CRANK_HOME: '/env/home', CRANK_DATA_DIR: '/env/data', USER: 'Ann' };

    await runCli(
      ['--controller', 'ctl:1', 'workers', 'extra', '--controller', 'ctl:9443'],
      testIo(env),
      record,
    );
    expect(seen).toMatchObject({
      args: ['extra'],
      location: { address: 'ctl:9443', dataDir: '/env/data', caFile: join('/env/data', 'ca.crt') },
      home: '/env/home',
      name: 'cli-ann',
    });

    await runCli(['--home', 'h', 'workers', '--data-dir', 'd', '--name', 'bot'], testIo(env), record);
    expect(seen).toMatchObject({ home: resolve('h'), location: { dataDir: resolve('d') }, name: 'bot' });
  });
});
