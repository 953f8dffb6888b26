import { once } from 'node:events';
import { pickHighest, type StreamingMode } from '@crank/capabilities';
import type { CallOptions } from '../crank-client.js';
import { isJsonType } from '../payload.js';
import { inputOf, wholeInput, type CommandInput } from './command-input.js';
import { byteChunks, CHUNK_BYTES, jsonLines } from './input-records.js';
import type { CliClient, CliIo, CliOptions, CommandContext } from './run-cli.js';
import { commandLine, printJson } from './run-cli.js';
import { UsageError } from './usage.js';

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
  const input = await inputOf('invoke', options, io);
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
  input: CommandInput,
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
  input: CommandInput,
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

/**
 * The records of a stream. A capability that streams only its output takes one input record, read
 * as for a unary call; the others take JSON lines, or raw 64 KiB chunks for a non-JSON type.
 * Without input: `{}` for one record, nothing for a stream.
 */
async function streamInput(
  mode: StreamingMode,
  input: CommandInput,
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

/** Writes to stdout, waiting for it to drain when its buffer is full. */
async function write(io: CliIo, data: string | Buffer): Promise<void> {
  if (!io.stdout.write(data)) await once(io.stdout, 'drain', { signal: io.signal });
}
