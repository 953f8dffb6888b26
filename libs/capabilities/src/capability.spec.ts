import { describe, expect, it } from '@jest/globals';
import { defineCapability } from './capability-definition.js';
import { ContractViolationError, InvalidInputError } from './errors.js';
import { SCHEMA_CACHE_MAX, schemaCacheSize } from './schema-compiler.js';

const greet = defineCapability<{ name: string; tags?: string[] }, { greeting: string }>({
  id: 'greet.person',
  version: '1.4.0',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1 },
      tags: { type: 'array', maxItems: 2, items: { type: 'string', enum: ['a', 'b'] } },
      'odd/key': { type: 'string' },
    },
  },
  outputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['greeting'],
    properties: { greeting: { type: 'string' }, at: { type: 'string', format: 'date-time' } },
  },
});

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('Capability input validation', () => {
  it('accepts a valid payload and returns it typed', () => {
    const payload = { name: 'Ann', tags: ['a'] };
    expect(greet.validateInput(payload)).toEqual([]);
    expect(greet.assertInput(payload).name).toBe('Ann');
  });

  it('reports every issue with its JSON pointer and keyword', () => {
    expect(greet.validateInput({ name: 5, tags: ['a', 'c', 'b'], extra: 1, 'odd/key': 2 })).toEqual([
      { path: '/extra', message: 'is not an allowed property', keyword: 'additionalProperties' },
      { path: '/name', message: 'must be string', keyword: 'type' },
      { path: '/tags', message: 'must NOT have more than 2 items', keyword: 'maxItems' },
      { path: '/tags/1', message: 'must be one of "a", "b"', keyword: 'enum' },
      { path: '/odd~1key', message: 'must be string', keyword: 'type' },
    ]);
  });

  it('points a missing property at the property itself', () => {
    expect(greet.validateInput({})).toEqual([{ path: '/name', message: 'is required', keyword: 'required' }]);
  });

  it('throws InvalidInputError naming the path and the rule', () => {
    const error = thrown(() => greet.assertInput({ name: 5 }));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toBe(
      'invalid input for greet.person@1.4.0: input /name: must be string',
    );
    expect((error as InvalidInputError).errors).toEqual([
      { path: '/name', message: 'must be string', keyword: 'type' },
    ]);
    expect((error as InvalidInputError).details).toMatchObject({
      capability: 'greet.person',
      version: '1.4.0',
    });
  });

  it('shows the whole payload as /', () => {
    expect((thrown(() => greet.assertInput('hello')) as Error).message).toBe(
      'invalid input for greet.person@1.4.0: input /: must be object',
    );
  });

  it('lists ten issues and counts the rest', () => {
    const many = defineCapability({
      id: 'many.fields',
      version: '1.0.0',
      inputSchema: { type: 'array', items: { type: 'string' } },
      outputSchema: true,
    });
    const message = (thrown(() => many.assertInput(Array.from({ length: 12 }, (_, i) => i))) as Error)
      .message;
    expect(message).toContain('input /9: must be string; and 2 more');
    expect(message).not.toContain('input /10:');
  });
});

describe('Capability output validation', () => {
  it('accepts a valid output', () => {
    expect(greet.assertOutput({ greeting: 'hi', at: '2026-11-27T10:00:00Z' })).toEqual({
      greeting: 'hi',
      at: '2026-11-27T10:00:00Z',
    });
  });

  it('throws ContractViolationError, blaming the worker', () => {
    const error = thrown(() => greet.assertOutput({ greeting: 'hi', at: 'yesterday' }));
    expect(error).toBeInstanceOf(ContractViolationError);
    expect((error as ContractViolationError).code).toBe('CONTRACT_VIOLATION');
    expect((error as ContractViolationError).message).toBe(
      'output of greet.person@1.4.0 breaks its schema: output /at: must match format "date-time"',
    );
    expect((error as ContractViolationError).httpStatus).toBe(502);
  });
});

describe('Capability', () => {
  it('knows its id, version and key', () => {
    expect([greet.id, greet.version, greet.key, String(greet)]).toEqual([
      'greet.person',
      '1.4.0',
      'greet.person@1.4.0',
      'greet.person@1.4.0',
    ]);
    expect(JSON.parse(JSON.stringify(greet))).toEqual(JSON.parse(JSON.stringify(greet.definition)));
  });

  it('matches semver ranges', () => {
    expect(greet.satisfies('^1.2.0')).toBe(true);
    expect(greet.satisfies('~1.4')).toBe(true);
    expect(greet.satisfies('')).toBe(true);
    expect(greet.satisfies('^2')).toBe(false);
    expect(() => greet.satisfies('not a range')).toThrow(InvalidInputError);
  });

  it('compiles a schema once however many capabilities share it', () => {
    const shared = () => ({ type: 'object', properties: { unique: { const: 'compile-once-test' } } });
    const before = schemaCacheSize();
    const first = defineCapability({
      id: 'cache.one',
      version: '1.0.0',
      inputSchema: shared(),
      outputSchema: shared(),
    });
    expect(schemaCacheSize()).toBe(before + 1);
    // Same content, other objects, other key order: still one compiled validator.
    const second = defineCapability({
      id: 'cache.two',
      version: '2.0.0',
      inputSchema: { properties: { unique: { const: 'compile-once-test' } }, type: 'object' },
      outputSchema: shared(),
    });
    expect(schemaCacheSize()).toBe(before + 1);
    expect(first.validateInput({ unique: 'x' })).toEqual(second.validateInput({ unique: 'x' }));
  });

  it('compiles two schemas with the same $id but different content', () => {
    const withId = (type: string) => ({ $id: 'https://example.com/same.json', type });
    const a = defineCapability({
      id: 'ids.one',
      version: '1.0.0',
      inputSchema: withId('string'),
      outputSchema: true,
    });
    const b = defineCapability({
      id: 'ids.two',
      version: '1.0.0',
      inputSchema: withId('number'),
      outputSchema: true,
    });
    expect(a.validateInput('x')).toEqual([]);
    expect(b.validateInput(1)).toEqual([]);
    expect(b.validateInput('x')).toEqual([{ path: '', message: 'must be number', keyword: 'type' }]);
  });
});

describe('Capability contract helpers', () => {
  const files = defineCapability<{ name: string } | Buffer, { ok: boolean }>({
    id: 'store.file',
    version: '1.0.0',
    inputSchema: { type: 'object' },
    outputSchema: { type: 'object' },
    errorCodes: ['UNSUPPORTED_FORMAT'],
    inputMediaTypes: ['application/pdf', 'image/*'],
  });

  it('takes JSON always and other media types only when declared', () => {
    expect(files.acceptsMediaType('')).toBe(true);
    expect(files.acceptsMediaType('application/json; charset=utf-8')).toBe(true);
    expect(files.acceptsMediaType('application/problem+json')).toBe(true);
    expect(files.acceptsMediaType('Application/PDF')).toBe(true);
    expect(files.acceptsMediaType('image/webp')).toBe(true);
    expect(files.acceptsMediaType('text/plain')).toBe(false);
    expect(greet.acceptsMediaType('application/octet-stream')).toBe(false);
  });

  it('allows declared codes and the implicit ones to handlers, runtime codes to workers', () => {
    expect(files.mayFailWith('UNSUPPORTED_FORMAT', 'handler')).toBe(true);
    expect(files.mayFailWith('DEADLINE_EXCEEDED', 'handler')).toBe(true);
    expect(files.mayFailWith('ALREADY_EXISTS', 'handler')).toBe(false);
    expect(files.mayFailWith('INVALID_INPUT', 'handler')).toBe(false);
    expect(files.mayFailWith('INVALID_INPUT', 'worker')).toBe(true);
    expect(files.mayFailWith('ALREADY_EXISTS', 'worker')).toBe(false);
  });

  it('keeps at most SCHEMA_CACHE_MAX compiled schemas', () => {
    for (let i = 0; i < SCHEMA_CACHE_MAX + 20; i++) {
      defineCapability({
        id: 'cache.many',
        version: '1.0.0',
        inputSchema: { const: `bounded-${i}` },
        outputSchema: true,
      });
    }
    expect(schemaCacheSize()).toBeLessThanOrEqual(SCHEMA_CACHE_MAX);
  });
});
