import { StringDecoder } from 'node:string_decoder';
import { CrankError } from '@crank/capabilities';

/** Size of the raw chunks `crank invoke` streams: 64 KiB. */
export const CHUNK_BYTES = 64 * 1024;

/**
 * The bytes of `source` in chunks of exactly `size` bytes (the last one may be shorter). Reads
 * only as the chunks are asked for, so a slow call slows the reading (back-pressure).
 */
export async function* byteChunks(
  source: AsyncIterable<Buffer | string>,
  size = CHUNK_BYTES,
): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const piece of source) {
    let rest = typeof piece === 'string' ? Buffer.from(piece) : piece;
    while (length + rest.length >= size) {
      const take = size - length;
      parts.push(rest.subarray(0, take));
      yield parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size);
      parts = [];
      length = 0;
      rest = rest.subarray(take);
    }
    if (rest.length > 0) {
      parts.push(rest);
      length += rest.length;
    }
  }
  if (length > 0) yield Buffer.concat(parts, length);
}

/**
 * One JSON record per non-empty line of `source` (JSON lines), parsed as the lines are asked for.
 *
 * @throws CrankError INVALID_INPUT naming the line that is not JSON
 */
export async function* jsonLines(source: AsyncIterable<Buffer | string>): AsyncGenerator<unknown> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let lineNumber = 0;
  for await (const piece of source) {
    pending += typeof piece === 'string' ? piece : decoder.write(piece);
    let start = 0;
    for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n', start)) {
      lineNumber += 1;
      const line = pending.slice(start, newline).trim();
      start = newline + 1;
      if (line !== '') yield parseLine(line, lineNumber);
    }
    pending = pending.slice(start);
  }
  const last = (pending + decoder.end()).trim();
  if (last !== '') yield parseLine(last, lineNumber + 1);
}

/** All of `source` as one Buffer. */
export async function readAll(source: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const piece of source) parts.push(typeof piece === 'string' ? Buffer.from(piece) : piece);
  return Buffer.concat(parts);
}

function parseLine(line: string, lineNumber: number): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch (error) {
    throw new CrankError(
      'INVALID_INPUT',
      `input line ${lineNumber}: must be JSON (${(error as Error).message})`,
    );
  }
}
