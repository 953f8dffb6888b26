import { StreamEvent } from '@crank/worker-runtime';
import { LineSplitter, MAX_LINE_BYTES } from './ndjson-lines.js';
import { FrameSplitter } from './protobuf-frames.js';

/** How a stream's byte chunks are cut into records: NDJSON lines, or protobuf frames. */
export type ByteFormat = 'ndjson' | 'protobuf';

/** The byte format of a stream whose chunks have media type `contentType`. */
export function byteFormatOf(contentType: string): ByteFormat {
  return contentType.split(';')[0]?.trim().toLowerCase() === 'application/x-protobuf' ? 'protobuf' : 'ndjson';
}

/** One input record of a stream, parsed, or why it could not be; with where it was. */
export type InputItem = { record: unknown; offset: number } | { malformed: string; offset: number };

/**
 * Turns the chunks of a streaming call into records: a JSON record is one (its offset is its
 * index); bytes hold many, as NDJSON lines or protobuf `StreamEvent` frames (each one's offset is
 * its byte offset), and a line or frame that does not parse comes out as malformed instead of
 * ending the stream.
 */
export class InputItems {
  private readonly lines = new LineSplitter();
  private readonly frames = new FrameSplitter();
  private index = 0;

  constructor(private readonly format: ByteFormat = 'ndjson') {}

  /** The records of one chunk. */
  *of(chunk: unknown): Generator<InputItem> {
    if (!Buffer.isBuffer(chunk)) {
      yield { record: chunk, offset: this.index++ };
      return;
    }
    if (this.format === 'protobuf') {
      for (const { frame, offset } of this.frames.push(chunk)) yield decodeFrame(frame, offset);
      return;
    }
    yield* this.parse(this.lines.push(chunk));
  }

  /** The last line, when the bytes did not end with a line break. */
  *end(): Generator<InputItem> {
    if (this.format === 'protobuf') {
      this.frames.end();
      return;
    }
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

/** A protobuf frame as the record it stands for (proto3: absent fields read as their defaults). */
function decodeFrame(frame: Buffer, offset: number): InputItem {
  try {
    const event = StreamEvent.decode(frame);
    return {
      record: { ts: event.ts, key: event.key, value: event.value, text: event.text, fields: event.fields },
      offset,
    };
  } catch (error) {
    return { malformed: `not a crank.v1.StreamEvent (${(error as Error).message})`, offset };
  }
}
