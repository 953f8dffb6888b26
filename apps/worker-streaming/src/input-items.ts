import { LineSplitter, MAX_LINE_BYTES } from './ndjson-lines.js';

/** One input record of a stream, parsed, or why it could not be; with where it was. */
export type InputItem = { record: unknown; offset: number } | { malformed: string; offset: number };

/**
 * Turns the chunks of a streaming call into records: a JSON record is one (its offset is its
 * index), NDJSON bytes hold many (each line's offset is its byte offset), and a line that is no
 * JSON comes out as malformed instead of ending the stream.
 */
export class InputItems {
  private readonly lines = new LineSplitter();
  private index = 0;

  /** The records of one chunk. */
  *of(chunk: unknown): Generator<InputItem> {
    if (!Buffer.isBuffer(chunk)) {
      yield { record: chunk, offset: this.index++ };
      return;
    }
    yield* this.parse(this.lines.push(chunk));
  }

  /** The last line, when the bytes did not end with a line break. */
  *end(): Generator<InputItem> {
    yield* this.parse(this.lines.end());
  }

  private *parse(
    lines: Iterable<{ text: string; offset: number } | { tooLong: true; offset: number }>,
  ): Generator<InputItem> {
    for (const line of lines) {
      if ('tooLong' in line) {
        yield { malformed: `line longer than ${MAX_LINE_BYTES} bytes`, offset: line.offset };
        continue;
      }
      try {
        yield { record: JSON.parse(line.text) as unknown, offset: line.offset };
      } catch {
        yield { malformed: 'not JSON', offset: line.offset };
      }
    }
  }
}

/** The `query` of a record, if it is `{ query: ... }`. */
export function queryOf(record: unknown): unknown {
  return typeof record === 'object' && record !== null ? (record as { query?: unknown }).query : undefined;
}
