import { describe, expect, it } from '@jest/globals';
import {
  CapabilityError,
  ContractViolationError,
  CrankError,
  InvalidInputError,
  defineCapability,
} from '@crank/capabilities';
import { serve } from '@crank/worker-runtime';
import { callHandler } from './call-handler.js';
import { mockContext } from './mock-context.js';

const TEXT = { type: 'object', required: ['text'], properties: { text: { type: 'string' } } } as const;
const REVERSE = defineCapability<{ text: string }, { text: string }>({
  id: 'reverse.text',
  version: '1.0.0',
  inputSchema: TEXT,
  outputSchema: TEXT,
  errorCodes: ['INVALID_INPUT'],
});
const WORDS = defineCapability<{ text: string }, { text: string }, 'output'>({
  id: 'split.words',
  version: '1.0.0',
  inputSchema: TEXT,
  outputSchema: TEXT,
  streaming: 'output',
});
const SHOUT = defineCapability<{ text: string }, { text: string }, 'bidi'>({
  id: 'shout.text',
  version: '1.0.0',
  inputSchema: TEXT,
  outputSchema: TEXT,
  streaming: 'bidi',
});

const reverse = serve(REVERSE, (input) => {
  if (input.text === '') throw new CapabilityError('INVALID_INPUT', 'text: must not be empty');
  return { text: [...input.text].reverse().join('') };
});

/** A promise the test resolves: a handler's work that the test decides when to finish. */
function latch(): { done: Promise<void>; release: () => void } {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { done, release };
}

/** Whether `promise` is still pending once everything already queued has run. */
async function isPending(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  const first = await Promise.race([
    promise.catch(() => undefined),
    new Promise((r) => setImmediate(() => r(marker))),
  ]);
  return first === marker;
}

describe('callHandler', () => {
  it('calls a served handler and returns its output, with the capability in the context', async () => {
    const ctx = mockContext({ capability: 'reverse.text' });
    await expect(callHandler(reverse, { text: 'abc' }, { ctx })).resolves.toEqual({ text: 'cba' });
    await expect(
      callHandler(
        serve(REVERSE, (_input, c) => ({ text: `${c.capability}@${c.version}` })),
        { text: 'x' },
      ),
    ).resolves.toEqual({ text: 'reverse.text@1.0.0' });
  });

  it('refuses input that breaks the input schema before the handler runs', async () => {
    let ran = false;
    const served = serve(REVERSE, () => {
      ran = true;
      return { text: '' };
    });
    const error = await callHandler(served, { text: 42 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toBe(
      'invalid input for reverse.text@1.0.0: input /text: must be string',
    );
    expect(ran).toBe(false);
  });

  it('fails with CONTRACT_VIOLATION when the output breaks the output schema', async () => {
    const served = serve(REVERSE, () => ({ text: 1 }) as unknown as { text: string });
    const error = await callHandler(served, { text: 'a' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractViolationError);
    expect((error as Error).message).toContain('output /text: must be string');
  });

  it('passes a declared error code through, and turns an undeclared one into CONTRACT_VIOLATION', async () => {
    await expect(callHandler(reverse, { text: '' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: 'text: must not be empty',
    });
    const undeclared = serve(REVERSE, () => {
      throw new CapabilityError('UNSUPPORTED_FORMAT', 'no');
    });
    const error = await callHandler(undeclared, { text: 'a' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractViolationError);
    expect((error as Error).message).toBe(
      'handler of reverse.text@1.0.0 failed with UNSUPPORTED_FORMAT, which the capability does not declare (errorCodes)',
    );
  });

  it('rejects with CANCELLED when the context is aborted and the handler honours the signal', async () => {
    const served = serve(
      REVERSE,
      (_input, ctx) =>
        new Promise<{ text: string }>((_resolve, reject) =>
          ctx.signal.addEventListener('abort', () => reject(new Error('stopped')), { once: true }),
        ),
    );
    const ctx = mockContext();
    const pending = callHandler(served, { text: 'a' }, { ctx });
    ctx.abort();
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('stays pending while a handler that ignores the signal runs on, then rejects with the abort reason', async () => {
    const work = latch();
    const served = serve(REVERSE, async () => {
      await work.done;
      return { text: 'finished anyway' };
    });
    const ctx = mockContext();
    const pending = callHandler(served, { text: 'a' }, { ctx });
    ctx.abort(new CrankError('DEADLINE_EXCEEDED', 'too slow'));
    expect(await isPending(pending)).toBe(true);
    work.release();
    await expect(pending).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', message: 'too slow' });
  });

  it('collects the records of an output stream, each checked against the output schema', async () => {
    const served = serve(WORDS, async function* (input) {
      for (const word of input.text.split(' ')) yield { text: word };
    });
    await expect(callHandler(served, { text: 'a b c' })).resolves.toEqual([
      { text: 'a' },
      { text: 'b' },
      { text: 'c' },
    ]);
    const bad = serve(WORDS, async function* () {
      yield { text: 'ok' };
      yield { text: 2 } as unknown as { text: string };
    });
    await expect(callHandler(bad, { text: 'x' })).rejects.toBeInstanceOf(ContractViolationError);
  });

  it('feeds a bidi handler its records one by one, each checked against the input schema', async () => {
    const served = serve(SHOUT, async function* (records) {
      for await (const record of records) yield { text: record.text.toUpperCase() };
    });
    await expect(callHandler(served, [{ text: 'a' }, { text: 'b' }])).resolves.toEqual([
      { text: 'A' },
      { text: 'B' },
    ]);
    await expect(callHandler(served, [{ text: 'a' }, { text: 3 }])).rejects.toBeInstanceOf(InvalidInputError);
  });

  it('calls a bare handler function as it is, without schema checks', async () => {
    const handler = (input: { n: number }): { twice: number } => ({ twice: input.n * 2 });
    await expect(callHandler(handler, { n: 2 })).resolves.toEqual({ twice: 4 });
  });
});
