import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { CrankError } from '@crank/capabilities';
import { callerHome } from '../caller-store.js';
import { connectClient, defaultCallerName, type ConnectOptions } from '../connect.js';
import type { CallOptions, CapabilityInfo, InvokeResult, WorkerInfo } from '../crank-client.js';
import { controllerLocation, type ControllerLocation } from '../identity.js';
import type { InvocationStream } from '../invocation-stream.js';
import type { JobsClient } from '../jobs-client.js';
import { USAGE, UsageError } from './usage.js';

/** What `crank` reads and writes: the process's in `main.ts`, buffers in tests. */
export interface CliIo {
  stdin: Readable & { isTTY?: boolean };
  /** A terminal (`isTTY`, `columns`) gets live progress instead of JSON lines. */
  stdout: Writable & { isTTY?: boolean; columns?: number };
  /** A terminal (`isTTY`, `columns`) gets the live progress of a streaming call. */
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C: cancels the call in flight. */
  signal: AbortSignal;
}

/** The options `crank` takes, every command alike (see {@link USAGE}). */
export interface CliOptions {
  json?: string;
  file?: string;
  'content-type'?: string;
  version?: string;
  timeout?: string;
  controller?: string;
  'data-dir'?: string;
  home?: string;
  name?: string;
  help?: boolean;
}

const CLI_OPTIONS = {
  json: { type: 'string' },
  file: { type: 'string' },
  'content-type': { type: 'string' },
  version: { type: 'string' },
  timeout: { type: 'string' },
  controller: { type: 'string' },
  'data-dir': { type: 'string' },
  home: { type: 'string' },
  name: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The calls commands make on the controller; a {@link CrankClient} is one. */
export interface CliClient {
  capabilities(): Promise<CapabilityInfo[]>;
  workers(): Promise<WorkerInfo[]>;
  invoke(capability: string, input: unknown, options?: CallOptions): Promise<InvokeResult<unknown>>;
  invokeStream(
    capability: string,
    input: AsyncIterable<unknown> | Iterable<unknown>,
    options?: CallOptions,
  ): InvocationStream<unknown>;
  readonly jobs: JobsClient;
  close(): void;
}

/**
 * What a command is given. Built-in commands read their options with {@link commandLine}; a
 * command with options of its own parses `argv` itself.
 */
export interface CommandContext {
  /** The arguments after the command name, as given. */
  argv: string[];
  /** The options given before the command name (`crank --controller host:port invoke ...`). */
  options: CliOptions;
  io: CliIo;
  /** Connects as a caller: {@link connectClient}, or a fake in tests. */
  connect(options: ConnectOptions): Promise<CliClient>;
}

/**
 * Options a command takes besides those of every command, in `node:util` `parseArgs` form; their
 * names must differ from the shared ones.
 */
export type OwnOptions = Readonly<Record<string, { readonly type: 'string' } | { readonly type: 'boolean' }>>;

/** The values of {@link OwnOptions}: a string or a boolean by the option's type, when given. */
export type OwnValues<S extends OwnOptions> = {
  [K in keyof S]?: S[K] extends { readonly type: 'boolean' } ? boolean : string;
};

/** The command line of a built-in command, with the controller and the caller it names. */
export interface CommandLine<Own = Record<never, never>> {
  /** Positional arguments after the command name. */
  args: string[];
  /** Options from before and after the command name; those after win. */
  options: CliOptions;
  /** The command's own options (after its name only). */
  own: Own;
  /** The controller: `--controller`, `--data-dir`, then `CRANK_*`. */
  location: ControllerLocation;
  /** The caller's own directory for keys and certificates: `--home`, then `CRANK_HOME`. */
  home: string;
  /** The caller name: `--name`, else `cli-<user>`. */
  name: string;
  /** Connects as the caller, enrolling once when needed; the command closes the client. */
  connect(): Promise<CliClient>;
}

/** Runs one command; answers its exit status. */
export type Dispatch = (command: string, context: CommandContext) => Promise<number>;

/**
 * Runs `crank` with `argv` (the arguments after the program): help and usage errors here, the
 * command through `dispatch`. Answers the exit status and never throws: 0 done, 1 a failed call
 * (the CrankError as JSON on stderr), 2 a usage error (with the usage on stderr), 130 cancelled.
 */
export async function runCli(argv: string[], io: CliIo, dispatch: Dispatch): Promise<number> {
  const at = commandIndex(argv);
  const command = at === undefined ? undefined : argv[at];
  let options: CliOptions;
  try {
    options = parseOptions(at === undefined ? argv : argv.slice(0, at));
  } catch (error) {
    return usageError(io, (error as Error).message);
  }
  if (options.help || command === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  if (command === undefined || at === undefined) {
    io.stderr.write(USAGE);
    return 2;
  }
  try {
    return await dispatch(command, { argv: argv.slice(at + 1), options, io, connect: connectClient });
  } catch (error) {
    if (error instanceof HelpRequested) {
      io.stdout.write(USAGE);
      return 0;
    }
    if (error instanceof UsageError) return usageError(io, error.message);
    if (io.signal.aborted) {
      io.stderr.write('crank: cancelled\n');
      return 130;
    }
    if (error instanceof CrankError) {
      io.stderr.write(`${JSON.stringify({ error: error.toJSON() }, null, 2)}\n`);
    } else {
      io.stderr.write(`crank: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    return 1;
  }
}

/**
 * Reads a built-in command's arguments with the options every command shares, and `own`.
 *
 * @throws UsageError on an unknown option or a missing value; `--help` makes `crank` print the usage
 */
export function commandLine<S extends OwnOptions = Record<never, never>>(
  context: CommandContext,
  own?: S,
): CommandLine<OwnValues<S>> {
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: context.argv,
      allowPositionals: true,
      strict: true,
      options: { ...own, ...CLI_OPTIONS },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const shared: Record<string, string | boolean | undefined> = {};
  const mine: Record<string, string | boolean | undefined> = {};
  for (const [key, value] of Object.entries(parsed.values)) {
    if (own && key in own && !(key in CLI_OPTIONS)) mine[key] = value;
    else shared[key] = value;
  }
  if (shared['help']) throw new HelpRequested();
  const options: CliOptions = { ...context.options, ...(shared as CliOptions) };
  const { env } = context.io;
  const location = controllerLocation(
    {
      ...(options.controller !== undefined ? { address: options.controller } : {}),
      ...(options['data-dir'] !== undefined ? { dataDir: options['data-dir'] } : {}),
    },
    env,
  );
  const home = callerHome(options.home, env);
  const name = options.name ?? defaultCallerName(env);
  return {
    args: parsed.positionals,
    options,
    own: mine as OwnValues<S>,
    location,
    home,
    name,
    connect: () => context.connect({ ...location, name, home }),
  };
}

/** Prints `value` as indented JSON on stdout. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Thrown by {@link commandLine} for `--help` after the command name. */
class HelpRequested extends Error {}

/** Where the command name is: the first argument that is neither an option nor an option's value. */
function commandIndex(argv: string[]): number | undefined {
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '--') return i + 1 < argv.length ? i + 1 : undefined;
    if (!arg.startsWith('-') || arg === '-') return i;
    const option = CLI_OPTIONS[arg.slice(2) as keyof typeof CLI_OPTIONS] as { type: string } | undefined;
    if (arg.startsWith('--') && !arg.includes('=') && option?.type === 'string') i += 1;
  }
  return undefined;
}

function parseOptions(args: string[]): CliOptions {
  return parseArgs({ args, allowPositionals: false, strict: true, options: CLI_OPTIONS }).values;
}

function usageError(io: CliIo, message: string): number {
  io.stderr.write(`crank: ${message}\n\n${USAGE}`);
  return 2;
}
