import { describe, expect, it } from '@jest/globals';
import { createTransferDecoder } from './transfer-decoders.js';

/** Decodes `encoded` cut into pieces of `size` bytes; answers the bytes and the problems met. */
function decode(encoding: string, encoded: string, size: number): { text: string; problems: string[] } {
  const problems: string[] = [];
  const decoder = createTransferDecoder(encoding, (code) => problems.push(code));
  const bytes = Buffer.from(encoded, 'latin1');
  const out: Buffer[] = [];
  // Copied: what a decoder answers is a view of a buffer it reuses.
  for (let at = 0; at < bytes.length; at += size)
    out.push(Buffer.from(decoder.write(bytes.subarray(at, at + size))));
  out.push(decoder.end());
  return { text: Buffer.concat(out).toString('latin1'), problems };
}

function everyCut(encoding: string, encoded: string): { text: string; problems: string[] } {
  const whole = decode(encoding, encoded, encoded.length || 1);
  for (let size = 1; size < encoded.length; size++)
    expect([size, decode(encoding, encoded, size)]).toEqual([size, whole]);
  return whole;
}

describe('createTransferDecoder', () => {
  it('decodes base64 across any cut, line breaks and padding included', () => {
    const text = 'The quick brown fox jumps over the lazy dog.\n'.repeat(3);
    const encoded = Buffer.from(text).toString('base64').replace(/.{20}/g, '$&\r\n');
    expect(everyCut('base64', encoded)).toEqual({ text, problems: [] });
  });

  it('goes on after padding in the middle (two encoded files glued together)', () => {
    expect(everyCut('base64', 'QQ==\nQkM=\n')).toEqual({ text: 'ABC', problems: [] });
  });

  it('skips and reports characters that are not base64, and an unfinished group', () => {
    expect(decode('base64', 'QU*JD', 100)).toEqual({ text: 'ABC', problems: ['bad-base64'] });
    expect(decode('base64', 'QUJDRA', 100)).toEqual({ text: 'ABCD', problems: ['bad-base64'] });
  });

  it('decodes quoted-printable escapes and soft line breaks across any cut', () => {
    const encoded = 'Caf=C3=A9 =3D equal, soft=\r\nbreak, padded soft= \t\r\nbreak, LF soft=\nbreak=';
    expect(everyCut('quoted-printable', encoded)).toEqual({
      text: Buffer.from('Café = equal, softbreak, padded softbreak, LF softbreak').toString('latin1'),
      problems: [],
    });
  });

  it('keeps a bad quoted-printable escape as written and reports it', () => {
    expect(everyCut('quoted-printable', 'a =ZZ b =4')).toEqual({
      text: 'a =ZZ b =4',
      problems: ['bad-quoted-printable', 'bad-quoted-printable'],
    });
  });

  it('passes 7bit, 8bit and binary through, and reads an unknown encoding as 8bit', () => {
    expect(decode('8bit', 'caf\xe9', 2)).toEqual({ text: 'caf\xe9', problems: [] });
    expect(decode('x-uuencode', 'begin', 2)).toEqual({
      text: 'begin',
      problems: ['unknown-transfer-encoding'],
    });
  });
});
