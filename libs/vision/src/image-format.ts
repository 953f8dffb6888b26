/** Image formats this library decodes (a GIF's first frame only). */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif';

/** Media type of each {@link ImageFormat}. */
export const IMAGE_MEDIA_TYPES: Readonly<Record<ImageFormat, string>> = Object.freeze({
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
});

/**
 * The format of an image, from its first bytes (magic numbers), or `undefined` for anything else.
 * Cheap, and independent of what a caller declared.
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const ascii = (start: number, end: number): string =>
    Buffer.from(bytes.subarray(start, end)).toString('latin1');
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (ascii(0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return 'gif';
  // ISO BMFF: a `ftyp` box whose major or compatible brands name AVIF.
  if (ascii(4, 8) === 'ftyp') {
    const boxSize = Buffer.from(bytes.subarray(0, 4)).readUInt32BE(0);
    const brands = ascii(8, Math.min(boxSize, bytes.length, 64));
    if (/avi[fs]/.test(brands)) return 'avif';
  }
  return undefined;
}
