import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export const FIXTURES = join(import.meta.dirname, 'fixtures');

/** Labels written down by looking at each fixture (see fixtures/README.md). */
export const EXPECTED_LABELS = JSON.parse(readFileSync(join(FIXTURES, 'labels.json'), 'utf8')) as Record<
  string,
  string
>;

/** The bytes of a fixture. */
export function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

/** Drawings made here, for the comparison of the two models (their labels are not asserted). */
const SVGS: Record<string, string> = {
  'smiley.svg':
    '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="320"><rect width="320" height="320" fill="#fff"/>' +
    '<circle cx="160" cy="160" r="120" fill="#ffd83b" stroke="#000" stroke-width="8"/><circle cx="120" cy="130" r="16"/>' +
    '<circle cx="200" cy="130" r="16"/><path d="M100 200 Q160 260 220 200" fill="none" stroke="#000" stroke-width="10"/></svg>',
  'house.svg':
    '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="320"><rect width="320" height="320" fill="#bde7ff"/>' +
    '<rect y="250" width="320" height="70" fill="#5dbb3f"/><rect x="90" y="150" width="140" height="110" fill="#e94b3c" stroke="#000" stroke-width="5"/>' +
    '<path d="M70 155 L160 80 L250 155 Z" fill="#7a4b2a" stroke="#000" stroke-width="5"/><circle cx="270" cy="50" r="30" fill="#ffd83b"/></svg>',
};

/** Every evaluation image: the fixtures, and images rendered here (PNG). */
export async function evaluationImages(): Promise<{ name: string; bytes: Buffer }[]> {
  const images = Object.keys(EXPECTED_LABELS).map((name) => ({ name, bytes: fixture(name) }));
  for (const [name, svg] of Object.entries(SVGS)) {
    images.push({ name, bytes: await sharp(Buffer.from(svg)).png().toBuffer() });
  }
  // Seeded noise: nothing like a training image, where the two models are least likely to agree by luck.
  const noise = Buffer.alloc(96 * 96 * 3);
  let seed = 42;
  for (let i = 0; i < noise.length; i++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    noise[i] = seed >> 23;
  }
  images.push({
    name: 'noise.png',
    bytes: await sharp(noise, { raw: { width: 96, height: 96, channels: 3 } })
      .png()
      .toBuffer(),
  });
  return images;
}
