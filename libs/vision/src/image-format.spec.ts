import { describe, expect, it } from '@jest/globals';
import sharp from 'sharp';
import { sniffImageFormat } from './image-format.js';

describe('sniffImageFormat', () => {
  it.each(['jpeg', 'png', 'webp', 'gif', 'avif'] as const)('knows %s by its first bytes', async (format) => {
    const bytes = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } })
      .toFormat(format)
      .toBuffer();
    expect(sniffImageFormat(bytes)).toBe(format);
  });

  it('answers undefined for anything else', async () => {
    const tiff = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } })
      .tiff()
      .toBuffer();
    expect(sniffImageFormat(tiff)).toBeUndefined();
    expect(sniffImageFormat(Buffer.from('GIF8'))).toBeUndefined();
    expect(sniffImageFormat(new Uint8Array())).toBeUndefined();
  });
});
