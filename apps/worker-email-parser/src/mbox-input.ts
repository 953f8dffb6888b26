import type { ParseMboxOptions } from '@crank/capabilities';
import { CapabilityError } from '@crank/worker-runtime';

/**
 * Splits the records of a `parse.mbox` stream into its options (the first record, when it is
 * JSON; the runtime has checked it against the input schema) and the mbox bytes that follow.
 * The bytes are pulled one record at a time, as the parser asks for them.
 *
 * @throws CapabilityError INVALID_INPUT when JSON comes after mbox bytes (while they are read)
 */
export async function mboxInput(
  records: AsyncIterable<ParseMboxOptions | Buffer>,
): Promise<{ options: ParseMboxOptions; bytes: AsyncIterable<Buffer> }> {
  const iterator = records[Symbol.asyncIterator]();
  const first = await iterator.next();
  const options = first.done || Buffer.isBuffer(first.value) ? {} : first.value;
  const pending = !first.done && Buffer.isBuffer(first.value) ? first.value : undefined;
  async function* bytes(): AsyncGenerator<Buffer> {
    try {
      if (pending) yield pending;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        if (!Buffer.isBuffer(next.value)) {
          throw new CapabilityError(
            'INVALID_INPUT',
            'options: send them as the first chunk, before the mbox bytes',
          );
        }
        yield next.value;
      }
    } finally {
      await iterator.return?.();
    }
  }
  return { options, bytes: bytes() };
}
