import { once } from 'node:events';
import { pickHighest, type StreamingMode } from '@crank/capabilities';
import type { CallOptions, CapabilityInfo } from '../crank-client.js';
import { isJsonType } from '../payload.js';
import { inputOf, wholeInput, type CommandInput } from './command-input.js';
import { byteChunks, CHUNK_BYTES, jsonLines } from './input-records.js';
import type { CliClient, CliIo, CliOptions, CommandContext } from './run-cli.js';
import { commandLine, printJson } from './run-cli.js';
import { StreamProgress } from './stream-progress.js';
import { UsageError } from './usage.js';

/**
 * `crank invoke <capability>`: looks up the capability's streaming mode, then calls it once
 * (`none`: prints `{workerId, version, output}`) or as a stream (prints each output record as it
 * arrives, one JSON per line, bytes as they are; with a live progress line on stderr when stderr
 * is a terminal). The input is `--json`, `--file` (`-`: stdin), or piped stdin; a `--file` without
 * `--content-type` goes as the capability's first raw media type (unless its name ends in .json,
 * .jsonl or .ndjson). Ctrl-C (`io.signal`) cancels the call.
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
      const offered = await offeredCapability(client, capability, options.version);
      const mode = offered?.streaming ?? 'none';
      const contentType = callOptions.contentType ?? fileContentType(input, offered);
      const call = contentType === undefined ? callOptions : { ...callOptions, contentType };
      if (mode === 'none') await invokeOnce(client, capability, input, call, io);
      else await invokeStreaming(client, capability, mode, input, call, io);
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
  const progress =
    io.stderr.isTTY && input.kind === 'stream'
      ? new StreamProgress(io.stderr, input.size === undefined ? {} : { totalBytes: input.size })
      : undefined;
  const stream = client.invokeStream(
    capability,
    await streamInput(mode, input, options.contentType, progress),
    options,
  );
  progress?.start();
  try {
    for await (const record of stream) {
      progress?.received();
      // Records and the progress line share the terminal: the line steps aside for each record.
      if (io.stdout.isTTY) progress?.clear();
      await write(io, Buffer.isBuffer(record) ? record : `${JSON.stringify(record)}\n`);
    }
  } finally {
    progress?.end();
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
  progress: StreamProgress | undefined,
): Promise<AsyncIterable<unknown> | Iterable<unknown>> {
  if (mode === 'output') return [await wholeInput(input, contentType)];
  if (input.kind === 'value') return [input.value];
  if (input.kind === 'none') return [];
  const source = counted(input.stream as AsyncIterable<Buffer>, progress);
  return contentType !== undefined && !isJsonType(contentType)
    ? byteChunks(source, CHUNK_BYTES)
    : jsonLines(source);
}

/** `source`, its bytes counted as sent when they are read (the call reads only as it sends). */
async function* counted(
  source: AsyncIterable<Buffer>,
  progress: StreamProgress | undefined,
): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    progress?.sent(chunk.length);
    yield chunk;
  }
}

/**
 * The media type of a `--file` given without `--content-type`: JSON when its name says so, else
 * the first raw media type the capability takes (an mbox to parse.mbox, an .eml to parse.email);
 * undefined (JSON) for other input, stdin included, and for a capability that takes only JSON.
 */
function fileContentType(input: CommandInput, offered: CapabilityInfo | undefined): string | undefined {
  if (input.kind !== 'stream' || input.size === undefined) return undefined;
  if (/\.(json|jsonl|ndjson)$/i.test(input.label)) return undefined;
  return offered?.inputMediaTypes[0];
}

/** The highest offered version (within `--version`); undefined when none is offered. */
async function offeredCapability(
  client: CliClient,
  capability: string,
  range: string | undefined,
): Promise<CapabilityInfo | undefined> {
  const offered = (await client.capabilities()).filter((c) => c.id === capability);
  const version = pickHighest(
    offered.map((c) => c.version),
    range ?? '',
  );
  return offered.find((c) => c.version === version);
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
