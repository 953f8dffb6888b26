import { describe, expect, it } from '@jest/globals';
import { canonicalJson, findNonJson, firstDifference, frozenJsonCopy } from './json-value.js';

describe('canonicalJson', () => {
  it('ignores key order and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
  });
});

describe('firstDifference', () => {
  it('returns the pointer of the first difference, escaped', () => {
    expect(firstDifference({ a: [1, 2] }, { a: [1, 2] })).toBeUndefined();
    expect(firstDifference({ a: [1, 2] }, { a: [1, 3] })).toBe('/a/1');
    expect(firstDifference({ a: [1] }, { a: [1, 2] })).toBe('/a/1');
    expect(firstDifference({ 'x/y': 1 }, {})).toBe('/x~1y');
    expect(firstDifference({ constructor: 1 }, {})).toBe('/constructor');
    expect(firstDifference(true, false)).toBe('');
  });
});

describe('findNonJson', () => {
  it('finds what JSON cannot carry', () => {
    expect(findNonJson({ a: [1, 'x', null, true] })).toBeUndefined();
    expect(findNonJson({ a: [() => 1] })).toBe('/a/0 is a function, which JSON cannot carry');
    expect(findNonJson({ a: undefined })).toBe('/a is a undefined, which JSON cannot carry');
    expect(findNonJson({ a: new Date(0) })).toBe('/a is not a plain object');
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    expect(findNonJson(cycle)).toBe('/self refers back to itself');
  });
});

describe('frozenJsonCopy', () => {
  it('copies deeply and freezes every level', () => {
    const source = { a: { b: [1, { c: 2 }] } };
    const copy = frozenJsonCopy(source);
    expect(copy).toEqual(source);
    expect(Object.isFrozen(copy.a.b[1])).toBe(true);
    expect(Object.isFrozen(source.a)).toBe(false);
  });
});
