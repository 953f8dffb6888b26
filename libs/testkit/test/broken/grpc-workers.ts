// Deliberately broken capabilities served over gRPC, each breaking one rule the conformance run
// checks. The handlers are in-process (startTestCluster); ignores-sigterm.mjs is a whole process.
import { CapabilityError, CrankError, defineCapability } from '@crank/capabilities';
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

/** Answers with an output its own schema refuses. */
export const WRONG_OUTPUT = defineCapability<{ text: string }, { text: string }>({
  id: 'broken.wrong-output',
  version: '1.0.0',
  inputSchema: TEXT,
  outputSchema: TEXT,
});
export const wrongOutput = serve(WRONG_OUTPUT, () => ({ text: 42 }) as unknown as { text: string });

/** Fails with a code it does not declare. */
export const UNDECLARED_ERROR = defineCapability<{ text: string }, { text: string }>({
  id: 'broken.undeclared-error',
  version: '1.0.0',
  inputSchema: TEXT,
  outputSchema: TEXT,
  errorCodes: ['INVALID_INPUT'],
});
export const undeclaredError = serve(UNDECLARED_ERROR, () => {
  throw new CapabilityError('UNSUPPORTED_FORMAT', 'cannot read that');
});

/** Never turns ready: its health stays NOT_SERVING. */
export const NEVER_READY = defineCapability<{ text: string }, { text: string }>({
  id: 'broken.never-ready',
  version: '1.0.0',
  inputSchema: TEXT,
  outputSchema: TEXT,
});
export const neverReady = serve(NEVER_READY, (input) => input, { ready: false, reason: 'loading forever' });

/** Declares 4 slots but fails a call that comes while another runs (shared state). */
export const NOT_REENTRANT = defineCapability<{ ms: number }, { waited: number }>({
  id: 'broken.not-reentrant',
  version: '1.0.0',
  inputSchema: WAIT,
  outputSchema: { type: 'object', required: ['waited'], properties: { waited: { type: 'integer' } } },
  resources: { maxConcurrency: 4 },
});
let busy = false;
export const notReentrant = serve(NOT_REENTRANT, async (input, ctx) => {
  if (busy) throw new CrankError('INTERNAL', 'already working on another call');
  busy = true;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, input.ms);
      ctx.signal.addEventListener('abort', () => (clearTimeout(timer), reject(ctx.signal.reason as Error)), {
        once: true,
      });
    });
    return { waited: input.ms };
  } finally {
    busy = false;
  }
});
