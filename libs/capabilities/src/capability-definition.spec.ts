import { describe, expect, it } from '@jest/globals';
import { Capability } from './capability.js';
import {
  defineCapability,
  parseCapabilityDefinition,
  type CapabilityDefinitionInit,
} from './capability-definition.js';
import { InvalidCapabilityError } from './errors.js';

const TEXT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['text'],
  properties: { text: { type: 'string' } },
};

function valid(overrides: Record<string, unknown> = {}): CapabilityDefinitionInit {
  return {
    id: 'reverse.text',
    version: '1.2.3',
    inputSchema: TEXT_SCHEMA,
    outputSchema: TEXT_SCHEMA,
    ...overrides,
  } as CapabilityDefinitionInit;
}

/** Runs `define` and returns the InvalidCapabilityError it must throw. */
function refusal(define: () => unknown): InvalidCapabilityError {
  try {
    define();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidCapabilityError);
    return error as InvalidCapabilityError;
  }
  throw new Error('expected an InvalidCapabilityError');
}

describe('defineCapability', () => {
  it('refuses a media type with parameters or without a subtype, naming the field', () => {
    expect(() =>
      defineCapability(valid({ inputMediaTypes: ['application/pdf', 'text/plain; charset=utf-8'] })),
    ).toThrow(/inputMediaTypes: must be media types without parameters/);
    expect(() => defineCapability(valid({ inputMediaTypes: 'image/png' as never }))).toThrow(
      /inputMediaTypes: must be an array of media types/,
    );
  });

  it('fills every default and freezes the definition', () => {
    const capability = defineCapability(valid());
    expect(capability).toBeInstanceOf(Capability);
    expect(capability.key).toBe('reverse.text@1.2.3');
    expect(capability.definition).toEqual({
      id: 'reverse.text',
      version: '1.2.3',
      description: '',
      inputSchema: TEXT_SCHEMA,
      outputSchema: TEXT_SCHEMA,
      errorCodes: [],
      streaming: 'none',
      resources: { gpu: false, maxConcurrency: 4 },
      idempotent: false,
      inputMediaTypes: [],
    });
    expect(Object.isFrozen(capability.definition)).toBe(true);
    expect(Object.isFrozen(capability.definition.resources)).toBe(true);
    expect(
      Object.isFrozen((capability.definition.inputSchema as Record<string, unknown>)['properties']),
    ).toBe(true);
  });

  it("copies the author's schema rather than freezing it", () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    defineCapability(valid({ inputSchema: schema }));
    expect(Object.isFrozen(schema)).toBe(false);
  });

  it('keeps every field the author gave', () => {
    const capability = defineCapability(
      valid({
        id: 'parse.email.fast',
        description: 'Parses mail.',
        errorCodes: ['INVALID_INPUT', 'UNSUPPORTED_FORMAT'],
        streaming: 'bidi',
        resources: { gpu: true, maxConcurrency: 8, memoryMb: 512 },
        idempotent: true,
        inputSchema: true,
      }),
    );
    expect(capability.definition).toMatchObject({
      id: 'parse.email.fast',
      description: 'Parses mail.',
      errorCodes: ['INVALID_INPUT', 'UNSUPPORTED_FORMAT'],
      streaming: 'bidi',
      resources: { gpu: true, maxConcurrency: 8, memoryMb: 512 },
      idempotent: true,
      inputSchema: true,
    });
  });

  it('accepts prerelease and build versions', () => {
    expect(defineCapability(valid({ version: '2.0.0-rc.1+build.5' })).version).toBe('2.0.0-rc.1+build.5');
  });

  it.each([
    ['1.x', '"reverse.text@1.x"', 'version: must be a semver version (got "1.x")'],
    ['1.0', '"reverse.text@1.0"', 'version: must be a semver version (got "1.0")'],
    [
      'v1.0.0',
      '"reverse.text@v1.0.0"',
      'version: must be written without a prefix or spaces, e.g. "1.0.0" (got "v1.0.0")',
    ],
    [3, '"reverse.text"', 'version: must be a string (got 3)'],
  ])('refuses version %p naming the field', (version, label, message) => {
    const error = refusal(() => defineCapability(valid({ version })));
    expect(error.message).toBe(`invalid capability definition ${label}: ${message}`);
    expect(error.issues).toEqual([expect.objectContaining({ field: 'version' })]);
    expect(error.code).toBe('INVALID_CAPABILITY');
    expect(error.httpStatus).toBe(422);
  });

  it('checks the type of id before its pattern', () => {
    expect(refusal(() => defineCapability(valid({ id: 42 }))).message).toBe(
      'invalid capability definition: id: must be a string (got 42)',
    );
    expect(refusal(() => defineCapability(valid({ id: `a.${'b'.repeat(130)}` }))).issues).toEqual([
      { field: 'id', rule: 'maxLength', message: 'must be at most 128 characters' },
    ]);
  });

  it.each([
    'Classify.email',
    'classify',
    'classify.email.fast.v2',
    'classify..email',
    '1classify.email',
    'classify.e_mail',
  ])('refuses id %p naming the rule', (id) => {
    const error = refusal(() => defineCapability(valid({ id })));
    expect(error.message).toContain(
      `id: must be "verb.noun" or "verb.noun.variant", lower-case segments of [a-z][a-z0-9-]* (got "${id}")`,
    );
    expect(error.issues.map((issue) => [issue.field, issue.rule])).toEqual([['id', 'matches']]);
  });

  it('refuses a missing id and a missing inputSchema as required', () => {
    const { id: _id, inputSchema: _schema, ...rest } = valid();
    const error = refusal(() => defineCapability(rest as CapabilityDefinitionInit));
    expect(error.message).toBe('invalid capability definition: id: is required; inputSchema: is required');
    expect(error.issues).toEqual([
      { field: 'id', rule: 'required', message: 'is required' },
      { field: 'inputSchema', rule: 'required', message: 'is required' },
    ]);
  });

  it('refuses a schema that is not an object or a boolean', () => {
    const error = refusal(() => defineCapability(valid({ outputSchema: [] })));
    expect(error.message).toContain('outputSchema: must be a JSON Schema (an object or a boolean)');
  });

  it("refuses a schema ajv cannot compile, with ajv's reason", () => {
    const error = refusal(() => defineCapability(valid({ inputSchema: { type: 'strng' } })));
    expect(error.issues).toEqual([expect.objectContaining({ field: 'inputSchema', rule: 'compilable' })]);
    expect(error.message).toMatch(
      /^invalid capability definition "reverse\.text@1\.2\.3": inputSchema: ajv cannot compile it: schema is invalid: data\/type must be/,
    );

    const unresolved = refusal(() =>
      defineCapability(valid({ outputSchema: { $ref: '#/definitions/missing' } })),
    );
    expect(unresolved.message).toContain(
      "outputSchema: ajv cannot compile it: can't resolve reference #/definitions/missing",
    );
  });

  it('refuses a schema holding something JSON cannot carry', () => {
    const error = refusal(() =>
      defineCapability(
        valid({ inputSchema: { type: 'object', properties: { a: { maximum: Number.NaN } } } }),
      ),
    );
    expect(error.message).toContain(
      'inputSchema: must be plain JSON: /properties/a/maximum is NaN, which JSON cannot carry',
    );
  });

  it('refuses unknown error codes naming the index and the value', () => {
    const error = refusal(() => defineCapability(valid({ errorCodes: ['INVALID_INPUT', 'OOPS', 7] })));
    expect(error.message).toContain(
      'errorCodes[1]: unknown error code "OOPS"; known codes: INVALID_INPUT, UNSUPPORTED_FORMAT,',
    );
    expect(error.message).toContain('errorCodes[2]: unknown error code 7;');
    expect(error.issues.map((issue) => issue.field)).toEqual(['errorCodes[1]', 'errorCodes[2]']);
  });

  it('refuses repeated error codes and a non-array list', () => {
    expect(
      refusal(() => defineCapability(valid({ errorCodes: ['INTERNAL', 'INTERNAL'] }))).message,
    ).toContain('errorCodes[1]: repeats "INTERNAL"');
    expect(refusal(() => defineCapability(valid({ errorCodes: 'INTERNAL' }))).message).toContain(
      'errorCodes: must be an array of error codes (got "INTERNAL")',
    );
  });

  it.each([
    [{ maxConcurrency: 0 }, 'resources.maxConcurrency: must be an integer >= 1 (got 0)'],
    [{ maxConcurrency: 2.5 }, 'resources.maxConcurrency: must be an integer >= 1 (got 2.5)'],
    [{ maxConcurrency: '4' }, 'resources.maxConcurrency: must be an integer >= 1 (got "4")'],
    [{ memoryMb: -1 }, 'resources.memoryMb: must be an integer >= 1 (got -1)'],
    [{ gpu: 'yes' }, 'resources.gpu: must be a boolean (got "yes")'],
    [{ cpus: 2 }, 'resources.cpus: is not a resources field (known: gpu, maxConcurrency, memoryMb)'],
  ])('refuses resources %p naming the nested field', (resources, message) => {
    const error = refusal(() => defineCapability(valid({ resources })));
    expect(error.message).toBe(`invalid capability definition "reverse.text@1.2.3": ${message}`);
  });

  it('refuses resources that are not an object', () => {
    expect(refusal(() => defineCapability(valid({ resources: 4 }))).message).toContain(
      'resources: must be an object (got 4)',
    );
  });

  it('refuses a bad streaming mode, description and idempotent flag', () => {
    const error = refusal(() =>
      defineCapability(valid({ streaming: 'both', description: 5, idempotent: 'yes' })),
    );
    expect(error.issues.map((issue) => `${issue.field}: ${issue.message}`)).toEqual([
      'description: must be a string (got 5)',
      'streaming: must be one of none, input, output, bidi (got "both")',
      'idempotent: must be a boolean (got "yes")',
    ]);
  });

  it('lists every broken field at once, in field order', () => {
    const error = refusal(() =>
      defineCapability({
        id: 'x',
        version: '1.x',
        outputSchema: TEXT_SCHEMA,
        extra: true,
      } as unknown as CapabilityDefinitionInit),
    );
    expect(error.issues.map((issue) => issue.field)).toEqual(['id', 'version', 'inputSchema', 'extra']);
    expect(error.message).toContain('extra: is not a definition field (known: id, version,');
  });
});

describe('parseCapabilityDefinition', () => {
  it('accepts JSON text and the parsed value alike', () => {
    const json = JSON.stringify(valid({ streaming: 'output' }));
    expect(parseCapabilityDefinition(json).definition.streaming).toBe('output');
    expect(parseCapabilityDefinition(JSON.parse(json)).key).toBe('reverse.text@1.2.3');
  });

  it('treats null as "not given" for optional fields', () => {
    const capability = parseCapabilityDefinition({
      ...valid(),
      description: null,
      resources: { memoryMb: null },
    });
    expect(capability.definition.description).toBe('');
    expect(capability.definition.resources).toEqual({ gpu: false, maxConcurrency: 4 });
  });

  it('applies the same rules as defineCapability', () => {
    const error = refusal(() => parseCapabilityDefinition(JSON.stringify(valid({ version: '1.x' }))));
    expect(error.message).toBe(
      'invalid capability definition "reverse.text@1.x": version: must be a semver version (got "1.x")',
    );
  });

  it('refuses text that is not JSON and values that are not objects', () => {
    expect(refusal(() => parseCapabilityDefinition('{ nope')).message).toMatch(
      /^invalid capability definition: definition: must be JSON text \(/,
    );
    expect(refusal(() => parseCapabilityDefinition([])).message).toBe(
      'invalid capability definition: definition: must be an object (got an array)',
    );
    expect(refusal(() => parseCapabilityDefinition(null)).message).toBe(
      'invalid capability definition: definition: must be an object (got null)',
    );
  });

  it('keeps a __proto__ key from JSON inert and refuses it as unknown', () => {
    const error = refusal(() =>
      parseCapabilityDefinition(`{"__proto__": {"polluted": true}, ${JSON.stringify(valid()).slice(1)}`),
    );
    expect(error.issues.map((issue) => issue.field)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
