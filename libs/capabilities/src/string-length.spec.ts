import { describe, expect, it } from '@jest/globals';
import { Ajv } from 'ajv';
import { codePointLength, STRING_LENGTH_KEYWORDS } from './string-length.js';

const PAIR = '\u{1F600}'; // one code point, two UTF-16 units

describe('codePointLength', () => {
  it('counts a surrogate pair once and a lone surrogate as one', () => {
    expect(codePointLength('')).toBe(0);
    expect(codePointLength('abc')).toBe(3);
    expect(codePointLength(`a${PAIR}b`)).toBe(3);
    expect(codePointLength('\ud83d')).toBe(1);
    expect(codePointLength('\ud83dx')).toBe(2);
    expect(codePointLength('\ude00\ud83d')).toBe(2);
  });
});

describe('STRING_LENGTH_KEYWORDS', () => {
  const ours = new Ajv({ allErrors: true, strict: false });
  ours.removeKeyword('maxLength').removeKeyword('minLength').addKeyword(STRING_LENGTH_KEYWORDS);
  const ajvs = new Ajv({ allErrors: true, strict: false });

  const texts = [
    '',
    'a',
    'ab',
    'abc',
    'abcd',
    PAIR,
    PAIR.repeat(2),
    PAIR.repeat(3),
    `a${PAIR}`,
    `${PAIR}ab`,
    '\ud83d',
    'x'.repeat(9),
  ];
  for (const schema of [
    { maxLength: 0 },
    { maxLength: 2 },
    { maxLength: 3 },
    { minLength: 1 },
    { minLength: 2 },
    { minLength: 3 },
    { minLength: 2, maxLength: 3 },
  ]) {
    it(`decides and reports as ajv does for ${JSON.stringify(schema)}`, () => {
      const mine = ours.compile({ type: 'string', ...schema });
      const theirs = ajvs.compile({ type: 'string', ...schema });
      for (const text of texts) {
        expect([text, mine(text)]).toEqual([text, theirs(text)]);
        expect(mine.errors ?? null).toEqual(theirs.errors ?? null);
      }
    });
  }

  it('takes limits from $data as ajv does', () => {
    const schema = {
      type: 'object',
      properties: { limit: { type: 'integer' }, text: { type: 'string', maxLength: { $data: '1/limit' } } },
    };
    const mine = new Ajv({ $data: true, strict: false });
    mine.removeKeyword('maxLength').removeKeyword('minLength').addKeyword(STRING_LENGTH_KEYWORDS);
    const validate = mine.compile(schema);

    expect(validate({ limit: 2, text: PAIR.repeat(2) })).toBe(true);
    expect(validate({ limit: 2, text: PAIR.repeat(3) })).toBe(false);
  });
});
