import { describe, expect, it } from '@jest/globals';
import { defineCapability } from '@crank/capabilities';
import { serve } from './handler.js';

type In = { text: string };
type Out = { text: string };
const schema = { type: 'object', required: ['text'], properties: { text: { type: 'string' } } };

const unary = defineCapability<In, Out>({
  id: 'text.unary',
  version: '1.0.0',
  inputSchema: schema,
  outputSchema: schema,
});
const bidi = defineCapability<In, Out, 'bidi'>({
  id: 'text.bidi',
  version: '1.0.0',
  inputSchema: schema,
  outputSchema: schema,
  streaming: 'bidi',
});
const input = defineCapability<In | Buffer, Out, 'input'>({
  id: 'text.input',
  version: '1.0.0',
  inputSchema: schema,
  outputSchema: schema,
  streaming: 'input',
  inputMediaTypes: ['application/octet-stream'],
});
const output = defineCapability<In, Out, 'output'>({
  id: 'text.output',
  version: '1.0.0',
  inputSchema: schema,
  outputSchema: schema,
  streaming: 'output',
});

// The checks that matter here are the compiler's: `npm test` type-checks specs, so each
// expect-error directive below fails the build if the wrong shape is ever accepted.
describe('serve', () => {
  it('takes the handler shape of each streaming mode and refuses the others', () => {
    const served = [
      serve(unary, (value) => ({ text: value.text })),
      // @ts-expect-error: a unary capability's handler takes one input, not an iterable
      serve(unary, async (records: AsyncIterable<In>) => ({ text: String(records) })),
      serve(bidi, async function* (records) {
        for await (const record of records) yield { text: record.text };
      }),
      // @ts-expect-error: a bidi capability needs a handler over records, returning a stream
      serve(bidi, (value: In) => ({ text: value.text })),
      serve(input, async (chunks) => {
        let bytes = 0;
        for await (const chunk of chunks) bytes += Buffer.isBuffer(chunk) ? chunk.length : chunk.text.length;
        return { text: String(bytes) };
      }),
      serve(output, async function* (value) {
        yield { text: value.text };
        yield Buffer.from(value.text);
      }),
      // @ts-expect-error: an output stream must be an async iterable
      serve(output, (value: In) => ({ text: value.text })),
      // @ts-expect-error: outputs must match the output type
      serve(unary, () => ({ txt: 'wrong field' })),
    ];
    expect(served.map((s) => s.capability.id)).toEqual([
      'text.unary',
      'text.unary',
      'text.bidi',
      'text.bidi',
      'text.input',
      'text.output',
      'text.output',
      'text.unary',
    ]);
  });

  it('starts a capability not ready when asked, with a reason', () => {
    expect(serve(unary, (v) => v, { ready: false }).options).toEqual({ ready: false, reason: 'starting' });
    expect(serve(unary, (v) => v, { ready: false, reason: 'loading model' }).options.reason).toBe(
      'loading model',
    );
    expect(serve(unary, (v) => v).options).toEqual({ ready: true, reason: '' });
  });
});
