import { describe, expect, it } from '@jest/globals';
import { byteChunks, CHUNK_BYTES, jsonLines, readAll } from './input-records.js';

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function* pieces(...parts: (string | Buffer)[]): AsyncGenerator<Buffer | string> {
  for (const part of parts) yield part;
}

describe('byteChunks', () => {
  it('cuts the input into 64 KiB chunks, the last one shorter', async () => {
    const data = Buffer.alloc(2 * CHUNK_BYTES + 100);
    for (let i = 0; i < data.length; i += 1) data[i] = i % 251;

    const chunks = await collect(byteChunks(pieces(data.subarray(0, 1000), data.subarray(1000))));

    expect(chunks.map((c) => c.length)).toEqual([CHUNK_BYTES, CHUNK_BYTES, 100]);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('joins small pieces and yields nothing for an empty input', async () => {
    expect(await collect(byteChunks(pieces('ab', 'cd', 'e'), 2))).toEqual([
      Buffer.from('ab'),
      Buffer.from('cd'),
      Buffer.from('e'),
    ]);
    expect(await collect(byteChunks(pieces()))).toEqual([]);
  });

  it('reads the source only as chunks are asked for', async () => {
    let pulled = 0;
    async function* source(): AsyncGenerator<Buffer> {
      for (;;) {
        pulled += 1;
        yield Buffer.alloc(16 * 1024);
      }
    }
    const chunks = byteChunks(source());

    await chunks.next();
    expect(pulled).toBe(4);
    await chunks.next();
    expect(pulled).toBe(8);
    await chunks.return(undefined);
  });
});

describe('jsonLines', () => {
  it('parses one record per non-empty line, CRLF or LF, the last line with or without a newline', async () => {
    const records = await collect(jsonLines(pieces('{"a":1}\r\n\n  \n[2', ',3]\n"x"')));
    expect(records).toEqual([{ a: 1 }, [2, 3], 'x']);
  });

  it('keeps a character split across pieces whole', async () => {
    const text = Buffer.from('{"t":"naïve €"}\n');
    const cut = text.indexOf(0xe2) + 1; // inside the euro sign
    expect(await collect(jsonLines(pieces(text.subarray(0, cut), text.subarray(cut))))).toEqual([
      { t: 'naïve €' },
    ]);
  });

  it('names the line that is not JSON', async () => {
    await expect(collect(jsonLines(pieces('{"a":1}\n\n{oops}\n')))).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/^input line 3: must be JSON \(/),
    });
  });
});

describe('readAll', () => {
  it('joins every piece', async () => {
    expect((await readAll(pieces('ab', Buffer.from('cd')))).toString()).toBe('abcd');
  });
});
