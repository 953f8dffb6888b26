import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { CrankError } from '@crank/capabilities';
import { isJsonType } from '../payload.js';
import { CHUNK_BYTES, readAll } from './input-records.js';
import type { CliIo, CliOptions } from './run-cli.js';
import { UsageError } from './usage.js';

/** The input of one call (`crank invoke`, `crank jobs submit`), as the command line gave it. */
export type CommandInput =
  | { kind: 'value'; value: unknown }
  | {
      kind: 'stream';
      stream: Readable;
      label: string;
      implicit: boolean;
      /** The file's size in bytes; undefined for stdin. */
      size?: number;
    }
  | { kind: 'none' };

/**
 * The input the command line names: `--json`, `--file` (`-`: stdin), or piped stdin. A file is
 * opened now, so that a missing one fails before the call; stdin is read when `--file -` says so,
 * or when it is piped and no other input is given. `command` names the command in messages.
 *
 * @throws UsageError for --json and --file together, JSON that does not parse, a file not readable
 */
export async function inputOf(command: string, options: CliOptions, io: CliIo): Promise<CommandInput> {
  if (options.json !== undefined && options.file !== undefined)
    throw new UsageError(`${command}: give --json or --file, not both`);
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
    const { size } = await handle.stat();
    return {
      kind: 'stream',
      stream: handle.createReadStream({ highWaterMark: CHUNK_BYTES }),
      label: options.file,
      implicit: false,
      size,
    };
  }
  if (!io.stdin.isTTY) return { kind: 'stream', stream: io.stdin, label: 'stdin', implicit: true };
  return { kind: 'none' };
}

/**
 * The input as one value: the parsed JSON document, the bytes for a non-JSON `contentType`, or
 * `{}` when there is none (or piped stdin is empty).
 *
 * @throws CrankError INVALID_INPUT naming the file or stdin that is not JSON
 */
export async function wholeInput(input: CommandInput, contentType: string | undefined): Promise<unknown> {
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
