import { CapabilityError, defineCapability } from '@crank/capabilities';
import { serve } from '@crank/worker-runtime';

const TEXT = {
  type: 'object',
  additionalProperties: false,
  required: ['text'],
  properties: { text: { type: 'string' } },
} as const;
const WAIT = {
  type: 'object',
  additionalProperties: false,
  required: ['ms'],
  properties: { ms: { type: 'integer', minimum: 0, maximum: 60_000 } },
} as const;

/** The README's worker capability. */
export const REVERSE = defineCapability<{ text: string }, { text: string }>({
  id: 'test.reverse',
  version: '1.0.0',
  inputSchema: TEXT,
  outputSchema: TEXT,
  errorCodes: ['INVALID_INPUT'],
  resources: { maxConcurrency: 8 },
});

export const reverse = serve(REVERSE, (input) => {
  if (input.text === '') throw new CapabilityError('INVALID_INPUT', 'text: must not be empty');
  return { text: [...input.text].reverse().join('') };
});

/** Waits `ms`, stopping at once when the call is cancelled: what a handler should do. */
export const WAIT_POLITELY = defineCapability<{ ms: number }, { waited: number }>({
  id: 'test.wait-politely',
  version: '1.0.0',
  inputSchema: WAIT,
  outputSchema: { type: 'object', required: ['waited'], properties: { waited: { type: 'integer' } } },
});

export const waitPolitely = serve(
  WAIT_POLITELY,
  (input, ctx) =>
    new Promise<{ waited: number }>((resolve, reject) => {
      const timer = setTimeout(() => resolve({ waited: input.ms }), input.ms);
      ctx.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(ctx.signal.reason as Error);
        },
        { once: true },
      );
    }),
);

/**
 * A handler that ignores `ctx.signal`: it runs until the test calls `release()`, whatever happens
 * to the call.
 */
export function stubborn(): {
  served: ReturnType<typeof serve>;
  capability: typeof WAIT_STUBBORNLY;
  release: () => void;
} {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  const served = serve(WAIT_STUBBORNLY, async (input) => {
    await done;
    return { waited: input.ms };
  });
  return { served, capability: WAIT_STUBBORNLY, release };
}

export const WAIT_STUBBORNLY = defineCapability<{ ms: number }, { waited: number }>({
  ...WAIT_POLITELY.definition,
  id: 'test.wait-stubbornly',
});

/** Takes any input at all. */
export const LENIENT = defineCapability<unknown, { ok: boolean }>({
  id: 'test.lenient',
  version: '1.0.0',
  inputSchema: true,
  outputSchema: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } },
});

export const lenient = serve(LENIENT, () => ({ ok: true }));

/** One record per word of the input: a capability that streams its output. */
export const WORDS = defineCapability<{ text: string }, { text: string }, 'output'>({
  id: 'test.words',
  version: '1.0.0',
  inputSchema: TEXT,
  outputSchema: TEXT,
  streaming: 'output',
});

export const words = serve(WORDS, async function* (input) {
  for (const word of input.text.split(' ')) yield { text: word };
});

/** Upper-cases each record: a bidi stream that declares INVALID_INPUT. */
export const SHOUT = defineCapability<{ text: string }, { text: string }, 'bidi'>({
  id: 'test.shout',
  version: '1.0.0',
  inputSchema: TEXT,
  outputSchema: TEXT,
  streaming: 'bidi',
  errorCodes: ['INVALID_INPUT'],
});

export const shout = serve(SHOUT, async function* (records) {
  for await (const record of records) yield { text: record.text.toUpperCase() };
});
