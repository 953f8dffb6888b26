import { describe, expect, it } from '@jest/globals';
import { defineCapability, type JsonSchema } from '@crank/capabilities';
import { findSchemaBreakingInput } from './schema-breaking-input.js';

const capability = (inputSchema: JsonSchema) =>
  defineCapability({ id: 'test.schema', version: '1.0.0', inputSchema, outputSchema: true });

describe('findSchemaBreakingInput', () => {
  it('leaves out a required field of a valid sample first', () => {
    const cap = capability({ type: 'object', required: ['text'], properties: { text: { type: 'string' } } });
    expect(findSchemaBreakingInput(cap, [{ text: 'abc' }])).toEqual({
      input: {},
      issue: '/text: is required',
    });
  });

  it('puts a value of the wrong type in a property when nothing is required', () => {
    const cap = capability({ type: 'object', properties: { n: { type: 'integer' } } });
    const found = findSchemaBreakingInput(cap, [{ n: 1 }]);
    expect(found?.input).toEqual({ n: 'crank-conformance' });
    expect(cap.validateInput(found?.input)).not.toEqual([]);
  });

  it('finds a non-object for an object schema that takes any object', () => {
    const cap = capability({ type: 'object' });
    const found = findSchemaBreakingInput(cap, [{}]);
    expect(found).toBeDefined();
    expect(cap.validateInput(found?.input)).not.toEqual([]);
  });

  it('finds an unknown field when additional properties are refused', () => {
    const cap = capability({
      type: 'object',
      additionalProperties: false,
      properties: { a: {} },
    });
    const found = findSchemaBreakingInput(cap, [{ a: 1 }]);
    expect(found?.issue).toBe('/crank-conformance-unknown-field: is not an allowed property');
  });

  it.each([[true], [{}]])('finds none for a schema that accepts anything (%j)', (schema) => {
    expect(findSchemaBreakingInput(capability(schema), [{ any: 'thing' }])).toBeUndefined();
  });
});
