import { describe, expect, it } from '@jest/globals';
import { CapabilityCatalog } from './catalog/capability-catalog.js';
import { checkAgainstCatalog, compareWithCatalog } from './catalog-check.js';
import { defineCapability, type CapabilityDefinitionInit } from './capability-definition.js';
import { CapabilityMismatchError } from './errors.js';

const ENTRY: CapabilityDefinitionInit = {
  id: 'classify.text',
  version: '1.0.0',
  description: 'Catalog wording.',
  inputSchema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
  outputSchema: {
    type: 'object',
    required: ['label'],
    properties: { label: { type: 'string', enum: ['spam', 'ham'] } },
  },
  errorCodes: ['INVALID_INPUT', 'MODEL_NOT_READY'],
  resources: { memoryMb: 256 },
};

const entry = defineCapability(ENTRY).definition;
const declare = (overrides: Partial<CapabilityDefinitionInit>) =>
  defineCapability({ ...ENTRY, ...overrides }).definition;

describe('compareWithCatalog', () => {
  it('accepts an identical declaration whose resources, description and minor version differ', () => {
    const declared = declare({
      version: '1.3.1',
      description: 'Worker wording.',
      resources: { gpu: true, maxConcurrency: 32 },
      errorCodes: ['MODEL_NOT_READY'],
      // Same schema with keys in another order.
      inputSchema: { properties: { text: { type: 'string' } }, required: ['text'], type: 'object' },
    });
    expect(compareWithCatalog(declared, entry)).toEqual([]);
  });

  it('detects a changed output schema and says where', () => {
    const declared = declare({
      outputSchema: {
        type: 'object',
        required: ['label'],
        properties: { label: { type: 'string', enum: ['spam', 'ham', 'unsure'] } },
      },
    });
    expect(compareWithCatalog(declared, entry)).toEqual(['outputSchema differs at /properties/label/enum/2']);
  });

  it('detects a changed streaming mode', () => {
    expect(compareWithCatalog(declare({ streaming: 'output' }), entry)).toEqual([
      'streaming: declared "output", catalog "none"',
    ]);
  });

  it('detects error codes the catalog does not list, and idempotency claims', () => {
    expect(
      compareWithCatalog(declare({ errorCodes: ['INVALID_INPUT', 'UNAVAILABLE'], idempotent: true }), entry),
    ).toEqual([
      'idempotent: declared true, catalog false',
      "errorCodes: UNAVAILABLE not in the catalog's codes (INVALID_INPUT, MODEL_NOT_READY)",
    ]);
  });

  it('only compares the same id and major version', () => {
    expect(compareWithCatalog(declare({ id: 'classify.other' }), entry)).toEqual([
      'id: declared "classify.other", catalog "classify.text"',
    ]);
    expect(compareWithCatalog(declare({ version: '2.0.0', streaming: 'bidi' }), entry)).toEqual([
      'version: declared major 2, catalog major 1',
    ]);
  });
});

describe('checkAgainstCatalog', () => {
  const catalog = new CapabilityCatalog([
    defineCapability(ENTRY),
    defineCapability({ ...ENTRY, version: '1.1.0', description: 'later' }),
  ]);

  it('returns the entry it compared with: same version first, else the highest of the major', () => {
    expect(checkAgainstCatalog(declare({}), catalog)?.version).toBe('1.0.0');
    expect(checkAgainstCatalog(declare({ version: '1.5.0' }), catalog)?.version).toBe('1.1.0');
  });

  it('returns undefined when the catalog has nothing to compare with', () => {
    expect(checkAgainstCatalog(declare({ version: '2.0.0' }), catalog)).toBeUndefined();
    expect(checkAgainstCatalog(declare({ id: 'other.thing' }), catalog)).toBeUndefined();
  });

  it('throws CapabilityMismatchError naming the declaration, the entry and each field', () => {
    let error: unknown;
    try {
      checkAgainstCatalog(
        declare({
          version: '1.2.0',
          streaming: 'bidi',
          outputSchema: { type: 'object', properties: { label: { type: 'number' } } },
        }),
        catalog,
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CapabilityMismatchError);
    const mismatch = error as CapabilityMismatchError;
    expect(mismatch.message).toBe(
      'classify.text@1.2.0 contradicts the catalog entry 1.1.0: outputSchema differs at /properties/label/enum; ' +
        'streaming: declared "bidi", catalog "none"',
    );
    expect(mismatch.contradictions).toHaveLength(2);
    expect(mismatch.code).toBe('CAPABILITY_MISMATCH');
    expect(mismatch.grpcStatus).toBe(9);
  });
});
