import { describe, expect, it } from '@jest/globals';
import { parseMediaType } from './media-type.js';

describe('parseMediaType', () => {
  it('reads the type and parameters, names in lower case, quoted values unquoted', () => {
    const { type, params } = parseMediaType('Image/PNG ; To=webp;width=800 ; title="Q3 \\"final\\"; draft"');
    expect(type).toBe('image/png');
    expect([...params]).toEqual([
      ['to', 'webp'],
      ['width', '800'],
      ['title', 'Q3 "final"; draft'],
    ]);
  });

  it('takes a type without parameters, and a trailing semicolon', () => {
    expect(parseMediaType('application/pdf').params.size).toBe(0);
    expect([...parseMediaType('application/pdf; to=text;').params]).toEqual([['to', 'text']]);
  });

  it.each([
    ['text/plain; charset', 'content-type: malformed parameter "charset"'],
    ['text/plain; to=pdf; to=html', 'content-type parameter to: give it once'],
    ['text/plain; title="a"b', 'content-type parameter title: malformed value'],
    ['text/plain; title="open', 'content-type parameter title: a quoted value is not closed'],
    ['text/plain; bad name=1', 'content-type: malformed parameter "bad name=1"'],
  ])('refuses %s', (contentType, message) => {
    expect(() => parseMediaType(contentType)).toThrow(message);
  });
});
