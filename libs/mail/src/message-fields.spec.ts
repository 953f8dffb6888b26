import { describe, expect, it } from '@jest/globals';
import { parseAddressHeader } from 'mailparser';
import { domainOf, parseAddresses, parseMailDate, parseMessageId } from './message-fields.js';

describe('parseAddresses', () => {
  it.each([
    'ann@example.com',
    '  Ann Example <ann@example.com> ',
    '"Example, Ann" <ann@example.com>',
    '=?UTF-8?B?SsO8cmdlbg==?= <j@example.com>',
    'a@example.com, B <b@example.com>',
    'list: a@example.com, b@example.com;',
    'undisclosed-recipients:;',
    'Ann <ann@xn--bcher-kva.example>',
    'not an address',
  ])('reads %j as mailparser does, entries without an address left out', (raw) => {
    const expected = parseAddressHeader(raw, { flatten: true })
      .value.filter((entry) => entry.address)
      .map((entry) =>
        entry.name ? { name: entry.name, address: entry.address } : { address: entry.address },
      );
    expect(parseAddresses(raw)).toEqual(expected);
  });

  it('keeps an encoded word that decodes to addresses a name', () => {
    // "=?utf-8?Q?a=40b.com,_c=40d.com?=" decodes to "a@b.com, c@d.com": still one mailbox.
    expect(parseAddresses('=?utf-8?Q?a=40b.com,_c=40d.com?= <real@example.com>')).toEqual([
      { name: expect.stringMatching(/^a@b\.com, +c@d\.com$/), address: 'real@example.com' },
    ]);
  });
});

describe('message fields', () => {
  it('reads dates as RFC 3339 in UTC, comments and obsolete zones included', () => {
    expect(parseMailDate('Fri, 27 Nov 2026 12:00:00 -0800 (PST)')).toBe('2026-11-27T20:00:00.000Z');
    expect(parseMailDate('27 Nov 96 12:00:00 EST')).toBe('1996-11-27T17:00:00.000Z');
    expect(parseMailDate('someday')).toBeUndefined();
    expect(parseMailDate('')).toBeUndefined();
  });

  it('reads the message id without brackets, and domains in lower case', () => {
    expect(parseMessageId(' <a.b@c> <second@d>')).toBe('a.b@c');
    expect(parseMessageId('bare@id')).toBe('bare@id');
    expect(parseMessageId('<>')).toBe('<>');
    expect(domainOf('Ann@Example.COM')).toBe('example.com');
    expect(domainOf('nobody')).toBeUndefined();
  });
});
