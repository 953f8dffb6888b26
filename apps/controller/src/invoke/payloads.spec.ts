import { describe, expect, it } from '@jest/globals';
import { DEBUG_ECHO } from '@crank/capabilities';
import { Payload } from '@crank/proto';
import { MAX_JSON_DEPTH, checkInput, nestingExceeds, parseJson } from './payloads.js';

const bytes = (text: string): Buffer => Buffer.from(text);

describe('payload checks', () => {
  it('refuses JSON nested deeper than the limit before parsing it, naming the field', () => {
    const deep = `${'['.repeat(5_000)}${']'.repeat(5_000)}`;
    expect(() => parseJson(bytes(deep), 'input')).toThrow(
      expect.objectContaining({
        code: 'INVALID_INPUT',
        message: `input: JSON nests deeper than ${MAX_JSON_DEPTH} levels`,
      }),
    );
    expect(parseJson(bytes(`${'['.repeat(100)}${']'.repeat(100)}`), 'input')).toBeInstanceOf(Array);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(nestingExceeds(bytes(JSON.stringify({ s: '[[[[[[[[[[\\"[[[[' })), 3)).toBe(false);
    expect(nestingExceeds(bytes('[[[[1]]]]'), 3)).toBe(true);
  });

  it('counts the brackets after a string that ends in an escaped backslash', () => {
    const text = JSON.stringify({ s: 'a backslash at the end \\', t: [[[[1]]]] });
    expect(nestingExceeds(bytes(text), 3)).toBe(true);
    expect(nestingExceeds(bytes(text), 5)).toBe(false);
  });

  it('passes long strings and unterminated text without counting what is inside', () => {
    expect(nestingExceeds(bytes(JSON.stringify({ s: '['.repeat(100_000) })), 3)).toBe(false);
    expect(nestingExceeds(bytes(`["${'['.repeat(10)}`), 3)).toBe(false);
  });

  it('refuses a media type the capability does not take with UNSUPPORTED_FORMAT listing those it does', () => {
    const text = Payload.fromPartial({ contentType: 'text/plain', data: bytes('hi') });
    expect(() => checkInput(DEBUG_ECHO, text)).toThrow(
      expect.objectContaining({
        code: 'UNSUPPORTED_FORMAT',
        message: 'content-type: debug.echo takes application/json (got "text/plain")',
      }),
    );
    const json = Payload.fromPartial({
      contentType: 'application/json; charset=utf-8',
      data: bytes('{"message":"x"}'),
    });
    expect(() => checkInput(DEBUG_ECHO, json)).not.toThrow();
  });
});
