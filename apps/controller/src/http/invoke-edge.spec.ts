import { describe, expect, it } from '@jest/globals';
import { contentTypeWithQuery, deadlineFromHeader, singleQuery } from './invoke-edge.js';

describe('HTTP call edge', () => {
  it('reads x-crank-timeout-ms as a deadline and refuses what is not 1 ms to 24 h, naming the header', () => {
    expect(deadlineFromHeader(undefined)).toBeUndefined();
    expect(deadlineFromHeader('1500', 1_000)).toBe(2_500);
    for (const bad of ['1e15', '2200000000', '0', '-5', 'abc', '1.5', '10, 20']) {
      expect(() => deadlineFromHeader(bad)).toThrow(
        expect.objectContaining({
          code: 'INVALID_INPUT',
          message: expect.stringMatching(/^x-crank-timeout-ms: /),
        }),
      );
    }
  });

  it('refuses a query parameter given twice instead of reading an array as a string', () => {
    expect(singleQuery({ version: '^1' }, 'version')).toBe('^1');
    expect(singleQuery({}, 'version')).toBeUndefined();
    expect(() => singleQuery({ version: ['a', 'b'] }, 'version')).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT', message: 'version: give it once (got 2)' }),
    );
  });
});

describe('query parameters of raw-bytes calls', () => {
  it('become media-type parameters, quoted where needed, and leave JSON bodies alone', () => {
    expect(contentTypeWithQuery('image/png', { to: 'text', width: '800' }, false)).toBe(
      'image/png; to=text; width=800',
    );
    expect(contentTypeWithQuery('text/plain', { title: 'A report' }, false)).toBe(
      'text/plain; title="A report"',
    );
    expect(contentTypeWithQuery('image/png', { version: '^2' }, false)).toBe('image/png');
    expect(contentTypeWithQuery('application/json', { to: 'text' }, true)).toBe('application/json');
  });

  it('refuses a repeated parameter, a bad name, or one also set in content-type', () => {
    expect(() => contentTypeWithQuery('image/png', { to: ['a', 'b'] }, false)).toThrow(/to: give it once/);
    expect(() => contentTypeWithQuery('image/png', { 'a b': 'x' }, false)).toThrow(/not a parameter name/);
    expect(() => contentTypeWithQuery('image/png; to=webp', { to: 'text' }, false)).toThrow(
      /both in the query/,
    );
  });
});
