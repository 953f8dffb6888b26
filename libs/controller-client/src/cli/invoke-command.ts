import { once } from 'node:events';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { CrankError, pickHighest, type StreamingMode } from '@crank/capabilities';
import type { CallOptions } from '../crank-client.js';
import { isJsonType } from '../payload.js';
import { byteChunks, CHUNK_BYTES, jsonLines, readAll } from './input-records.js';
import type { CliClient, CliIo, CliOptions, CommandContext } from './run-cli.js';
import { commandLine, printJson } from './run-cli.js';
import { UsageError } from './usage.js';

/** The input of one `crank invoke`, as the command line gave it. */
type InvokeInput =
  | { kind: 'value'; value: unknown }
  | { kind: 'stream'; stream: Readable; label: string; implicit: boolean }
  | { kind: 'none' };

/**
 * `crank invoke <capability>`: looks up the capability's streaming mode, then calls it once
 * (`none`: prints `{workerId, version, output}`) or as a stream (prints each output record as it
 * arrives, one JSON per line, bytes as they are). The input is `--json`, `--file` (`-`: stdin), or
 * piped stdin; Ctrl-C (`io.signal`) cancels the call.
 */
export async function invokeCommand(context: CommandContext): Promise<number> {
  const { io } = context;
  const { args, options, connect } = commandLine(context);
  const capability = args[0];
  if (capability === undefined)
    throw new UsageError('invoke: name the capability, e.g. crank invoke debug.echo');
  if (args.length > 1) throw new UsageError(`invoke: one capability only (got also "${args[1]}")`);
  const callOptions = callOptionsOf(options, io.signal);
  const input = await inputOf(options, io);
  const onAbort = (): void => {
    if (input.kind === 'stream') input.stream.destroy();
  };
  io.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const client = await connect();
    try {
      const mode = await streamingModeOf(client, capability, options.version);
      if (mode === 'none') await invokeOnce(client, capability, input, callOptions, io);
      else await invokeStreaming(client, capability, mode, input, callOptions, io);
    } finally {
      client.close();
    }
  } finally {
    io.signal.removeEventListener('abort', onAbort);
    if (input.kind === 'stream') input.stream.destroy();
  }
  return 0;
}

async function invokeOnce(
  client: CliClient,
  capability: string,
  input: InvokeInput,
  options: CallOptions,
  io: CliIo,
): Promise<void> {
  const value = await wholeInput(input, options.contentType);
  const result = await client.invoke(capability, value, options);
  if (Buffer.isBuffer(result.output)) await write(io, result.output);
  else printJson(io, { workerId: result.workerId, version: result.version, output: result.output });
}

async function invokeStreaming(
  client: CliClient,
  capability: string,
  mode: StreamingMode,
  input: InvokeInput,
  options: CallOptions,
  io: CliIo,
): Promise<void> {
  const stream = client.invokeStream(
    capability,
    await streamInput(mode, input, options.contentType),
    options,
  );
  for await (const record of stream) {
    await write(io, Buffer.isBuffer(record) ? record : `${JSON.stringify(record)}\n`);
  }
}

/** The one input of a unary call, or of a stream that takes one record (`output` mode). */
async function wholeInput(input: InvokeInput, contentType: string | undefined): Promise<unknown> {
  if (input.kind === 'value') return input.value;
  if (input.kind === 'none') return {};
  const bytes = await readAll(input.stream);
  if (contentType !== undefined && !isJsonType(contentType)) return bytes;
  if (input.implicit && bytes.toString('utf8').trim() === '') return {};
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (error) {
    throw new CrankError('INVALID_INPUT', `${input.label}: must be JSON (${(error as Error).message})`);
  }
}

/**
 * The records of a stream. A capability that streams only its output takes one input record, read
 * as for a unary call; the others take JSON lines, or raw 64 KiB chunks for a non-JSON type.
 * Without input: `{}` for one record, nothing for a stream.
 */
async function streamInput(
  mode: StreamingMode,
  input: InvokeInput,
  contentType: string | undefined,
): Promise<AsyncIterable<unknown> | Iterable<unknown>> {
  if (mode === 'output') return [await wholeInput(input, contentType)];
  if (input.kind === 'value') return [input.value];
  if (input.kind === 'none') return [];
  const source = input.stream as AsyncIterable<Buffer>;
  return contentType !== undefined && !isJsonType(contentType)
    ? byteChunks(source, CHUNK_BYTES)
    : jsonLines(source);
}

/** The highest offered version's mode (within `--version`); `none` when none is offered. */
async function streamingModeOf(
  client: CliClient,
  capability: string,
  range: string | undefined,
): Promise<StreamingMode> {
  const offered = (await client.capabilities()).filter((c) => c.id === capability);
  const version = pickHighest(
    offered.map((c) => c.version),
    range ?? '',
  );
  return offered.find((c) => c.version === version)?.streaming ?? 'none';
}

function callOptionsOf(options: CliOptions, signal: AbortSignal): CallOptions {
  const timeout = options.timeout;
  if (timeout !== undefined && !(/^\d+$/.test(timeout) && Number(timeout) > 0))
    throw new UsageError(`--timeout: must be a positive whole number of milliseconds (got "${timeout}")`);
  return {
    signal,
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...(timeout !== undefined ? { timeoutMs: Number(timeout) } : {}),
    ...(options['content-type'] !== undefined ? { contentType: options['content-type'] } : {}),
  };
}

/**
 * The input the command line names. A file is opened now, so that a missing one fails before the
 * call; stdin is read when `--file -` says so, or when it is piped and no other input is given.
 */
async function inputOf(options: CliOptions, io: CliIo): Promise<InvokeInput> {
  if (options.json !== undefined && options.file !== undefined)
    throw new UsageError('invoke: give --json or --file, not both');
  if (options.json !== undefined) {
    if (options['content-type'] !== undefined)
      throw new UsageError('--content-type: applies to --file or stdin input, not to --json');
    try {
      return { kind: 'value', value: JSON.parse(options.json) as unknown };
    } catch (error) {
      throw new UsageError(`--json: must be JSON (${(error as Error).message})`);
    }
  }
  if (options.file === '-') return { kind: 'stream', stream: io.stdin, label: 'stdin', implicit: false };
  if (options.file !== undefined) {
    let handle;
    try {
      handle = await open(options.file, 'r');
    } catch (error) {
      throw new UsageError(`--file: cannot read ${options.file} (${(error as Error).message})`);
    }
    return {
      kind: 'stream',
      stream: handle.createReadStream({ highWaterMark: CHUNK_BYTES }),
      label: options.file,
      implicit: false,
    };
  }
  if (!io.stdin.isTTY) return { kind: 'stream', stream: io.stdin, label: 'stdin', implicit: true };
  return { kind: 'none' };
}

/** Writes to stdout, waiting for it to drain when its buffer is full. */
async function write(io: CliIo, data: string | Buffer): Promise<void> {
  if (!io.stdout.write(data)) await once(io.stdout, 'drain', { signal: io.signal });
}
