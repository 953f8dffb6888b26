import { describe, expect, it } from '@jest/globals';
import { decodeEncodedWords } from './encoded-words.js';
import { parseStructuredHeader } from './structured-header.js';

describe('parseStructuredHeader', () => {
  it('reads the value and its parameters, quoted or not', () => {
    const header = parseStructuredHeader(
      'Text/Plain; charset="UTF-8"; format=flowed; name="a \\"b\\";c.txt"',
    );
    expect(header.value).toBe('text/plain');
    expect(Object.fromEntries(header.params)).toEqual({
      charset: 'UTF-8',
      format: 'flowed',
      name: 'a "b";c.txt',
    });
  });

  it('joins RFC 2231 continuations and decodes them in their charset', () => {
    const header = parseStructuredHeader(
      "attachment; filename*0*=iso-8859-1''R%E9sum; filename*1*=%E9; filename*2=.pdf; size=12",
    );
    expect(Object.fromEntries(header.params)).toEqual({ filename: 'Résumé.pdf', size: '12' });
  });

  it('decodes an encoded word inside a quoted value, as mailers write file names', () => {
    expect(
      parseStructuredHeader('attachment; filename="=?UTF-8?B?w6l0w6kucG5n?="').params.get('filename'),
    ).toBe('été.png');
  });
});

describe('decodeEncodedWords', () => {
  it('decodes B and Q words, dropping the white space between adjacent ones', () => {
    expect(decodeEncodedWords('=?ISO-8859-1?Q?Andr=E9?= Pirard, =?utf-8?b?w6k=?= =?utf-8?q?_x?=')).toEqual({
      text: 'André Pirard, é x',
    });
  });

  it('names a charset it does not know and reads the word as UTF-8', () => {
    expect(decodeEncodedWords('=?x-unknown?Q?caf=C3=A9?=')).toEqual({
      text: 'café',
      unknownCharset: 'x-unknown',
    });
  });

  it('leaves text that only looks like an encoded word as it is', () => {
    expect(decodeEncodedWords('=?broken? and a=?b')).toEqual({ text: '=?broken? and a=?b' });
  });
});
