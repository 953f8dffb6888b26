import { describe, expect, it } from '@jest/globals';
import { CapabilityError } from '@crank/worker-runtime';
import { resolveSourceFormat, sniffFormat } from './sniff-format.js';

const bytes = (...parts: (string | number[])[]): Buffer =>
  Buffer.concat(
    parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))),
  );

describe('sniffFormat', () => {
  it.each([
    ['pdf', bytes('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n')],
    ['pdf', bytes('\n\n  %PDF-1.4 after some junk')],
    ['png', bytes([0x89], 'PNG\r\n\x1a\n', [0, 0, 0, 13])],
    ['jpeg', bytes([0xff, 0xd8, 0xff, 0xe0])],
    ['webp', bytes('RIFF', [0x24, 0, 0, 0], 'WEBPVP8 ')],
    ['avif', bytes([0, 0, 0, 0x1c], 'ftypavif', [0, 0, 0, 0], 'mif1miaf')],
    ['avif', bytes([0, 0, 0, 0x1c], 'ftypmif1', [0, 0, 0, 0], 'mif1avif')],
    ['tiff', bytes('II*', [0])],
    ['tiff', bytes('MM', [0], '*')],
    ['docx', bytes('PK', [3, 4], '....[Content_Types].xml....word/document.xml')],
    ['zip', bytes('PK', [3, 4], '....notes.txt')],
    ['html', Buffer.from('\ufeff  <!DOCTYPE html><html>', 'utf8')],
    ['html', bytes('<p>Hello</p>')],
    ['json', bytes('  [{"a": 1}]')],
    ['text', bytes('# A heading\n\nText.')],
    ['text', bytes('name,city\nAnn,Oslo\n')],
    ['unknown', bytes([0, 1, 2, 3])],
    ['unknown', bytes('caf', [0xe9], ' au lait')],
    ['unknown', bytes([0, 0, 0, 0x1c], 'ftypheic')],
  ])('reads %s', (format, data) => {
    expect(sniffFormat(data)).toBe(format);
  });

  it('reads a UTF-8 character cut by the probe as text', () => {
    expect(sniffFormat(Buffer.from(`${'a'.repeat(64 * 1024 - 1)}é`))).toBe('text');
  });
});

describe('resolveSourceFormat', () => {
  const refusal = (run: () => unknown): { code: string; message: string } => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(CapabilityError);
      return { code: (error as CapabilityError).code, message: (error as CapabilityError).message };
    }
    throw new Error('not refused');
  };

  it('takes the sniffed format when none is declared, and a declared one the bytes agree with', () => {
    expect(resolveSourceFormat(undefined, 'png', 'from')).toBe('png');
    expect(resolveSourceFormat('png', 'png', 'from')).toBe('png');
  });

  it('lets the caller name a text format that bytes cannot tell apart', () => {
    expect(resolveSourceFormat('markdown', 'text', 'from')).toBe('markdown');
    expect(resolveSourceFormat('csv', 'text', 'from')).toBe('csv');
    expect(resolveSourceFormat('text', 'html', 'from')).toBe('text');
    expect(resolveSourceFormat('text', 'unknown', 'content-type text/plain', true)).toBe('text');
  });

  it('refuses a declared format the bytes contradict with UNSUPPORTED_FORMAT, naming both', () => {
    expect(refusal(() => resolveSourceFormat('jpeg', 'png', 'from'))).toEqual({
      code: 'UNSUPPORTED_FORMAT',
      message: 'content: declared jpeg (from) but the bytes are png',
    });
    expect(refusal(() => resolveSourceFormat('csv', 'pdf', 'content-type text/csv'))).toEqual({
      code: 'UNSUPPORTED_FORMAT',
      message: 'content: declared csv (content-type text/csv) but the bytes are pdf',
    });
    expect(refusal(() => resolveSourceFormat('pdf', 'zip', 'from')).message).toBe(
      'content: declared pdf (from) but the bytes are a ZIP archive',
    );
  });

  it('refuses bytes that are no file of the declared format with INVALID_INPUT', () => {
    expect(refusal(() => resolveSourceFormat('png', 'unknown', 'from'))).toEqual({
      code: 'INVALID_INPUT',
      message: 'content: is not a png file (from): its first bytes are no png signature',
    });
    expect(refusal(() => resolveSourceFormat('csv', 'unknown', 'from'))).toEqual({
      code: 'INVALID_INPUT',
      message: 'content: is not UTF-8 text, so not csv (from)',
    });
    expect(refusal(() => resolveSourceFormat('docx', 'zip', 'from'))).toEqual({
      code: 'INVALID_INPUT',
      message: 'content: is a ZIP archive without word/document.xml, not a Word document',
    });
  });

  it('refuses bytes it cannot name when nothing is declared', () => {
    expect(refusal(() => resolveSourceFormat(undefined, 'unknown', 'from')).code).toBe('UNSUPPORTED_FORMAT');
    expect(refusal(() => resolveSourceFormat(undefined, 'zip', 'from')).message).toBe(
      'content: a ZIP archive that is not a Word document (.docx)',
    );
  });
});
