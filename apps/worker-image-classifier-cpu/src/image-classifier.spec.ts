import { describe, expect, it } from '@jest/globals';
import sharp from 'sharp';
import { compilePreprocessOptions, type ImageTensor } from '@crank/vision';
import { ImageClassifier } from './image-classifier.js';
import type { ImageModel } from './image-model.js';

/**
 * A model that answers by colour: an image whose first pixel is mostly red is "porn", blue
 * "drawing", anything else "neutral" (scores 0.9 / 0.05 / 0.05). It records each batch's size.
 */
class ColourModel implements ImageModel {
  readonly name = 'colour@1';
  readonly labels = ['drawing', 'hentai', 'neutral', 'porn', 'sexy'];
  readonly batches: number[] = [];

  classify(batch: ImageTensor): Promise<Float32Array[]> {
    const [n = 0, , h = 0, w = 0] = batch.dims;
    this.batches.push(n);
    const plane = h * w;
    return Promise.resolve(
      Array.from({ length: n }, (_, i) => {
        const r = batch.data[i * 3 * plane] ?? 0;
        const b = batch.data[i * 3 * plane + 2 * plane] ?? 0;
        const top = r > 0.8 ? 3 : b > 0.8 ? 0 : 2;
        return Float32Array.from(this.labels, (_, index) =>
          index === top ? 0.9 : index === 2 || index === 3 ? 0.05 : 0,
        );
      }),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

const png = (background: string, width = 30, height = 20): Promise<Buffer> =>
  sharp({ create: { width, height, channels: 3, background } })
    .png()
    .toBuffer();

function classifier(
  model = new ColourModel(),
  batching: { batchWindowMs?: number; maxBatch?: number } = {},
): ImageClassifier {
  return new ImageClassifier(model, {
    preprocess: compilePreprocessOptions({ size: 4 }),
    unsafeLabels: ['hentai', 'porn', 'sexy'],
    batchWindowMs: 5,
    maxBatch: 64,
    ...batching,
  });
}

describe('ImageClassifier', () => {
  it('answers the label, every score, unsafeScore and safe against the threshold', async () => {
    const [blue] = await classifier().classify([await png('#0000ff')], 0.5, new AbortController().signal);
    expect(blue).toEqual({
      label: 'drawing',
      score: expect.closeTo(0.9, 6),
      scores: {
        drawing: expect.closeTo(0.9, 6),
        hentai: 0,
        neutral: expect.closeTo(0.05, 6),
        porn: expect.closeTo(0.05, 6),
        sexy: 0,
      },
      unsafeScore: expect.closeTo(0.05, 6),
      safe: true,
      width: 30,
      height: 20,
    });
    const [red] = await classifier().classify([await png('#ff0000')], 0.95, new AbortController().signal);
    expect(red).toMatchObject({ label: 'porn', unsafeScore: expect.closeTo(0.9, 6), safe: true });
    const [strict] = await classifier().classify([await png('#ff0000')], 0.5, new AbortController().signal);
    expect(strict).toMatchObject({ label: 'porn', safe: false });
  });

  it('runs concurrent calls as one batch and answers each in its order', async () => {
    const model = new ColourModel();
    // The batch fills at three images; the long window only bounds the wait, so how long each
    // call's decoding takes on a busy machine cannot split the batch.
    const subject = classifier(model, { batchWindowMs: 10_000, maxBatch: 3 });
    const [red, green, blue] = await Promise.all([png('#ff0000'), png('#00ff00'), png('#0000ff')]);
    const signal = new AbortController().signal;
    const [a, b] = await Promise.all([
      subject.classify([red, green], 0.5, signal, 'images'),
      subject.classify([blue], 0.5, signal),
    ]);
    expect(model.batches).toEqual([3]);
    expect(a?.map((r) => r.label)).toEqual(['porn', 'neutral']);
    expect(b?.map((r) => r.label)).toEqual(['drawing']);
  });

  it('splits a call of more images than one inference takes', async () => {
    const model = new ColourModel();
    const subject = classifier(model, { maxBatch: 2 });
    const images = await Promise.all(['#ff0000', '#0000ff', '#00ff00'].map((colour) => png(colour)));
    const results = await subject.classify(images, 0.5, new AbortController().signal, 'images');
    expect(results.map((r) => r.label)).toEqual(['porn', 'drawing', 'neutral']);
    expect(model.batches).toEqual([2, 1]);
  });

  it('names the image of a batch that cannot be decoded', async () => {
    const corrupt = (await png('#ff0000')).subarray(0, 40);
    const error = await classifier()
      .classify([await png('#ff0000'), corrupt], 0.5, new AbortController().signal, 'images')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_INPUT', details: { format: 'png', index: 1 } });
    expect((error as Error).message).toMatch(/^images\[1\]: is not a valid png image/);
  });

  it('refuses unsafe labels the model does not have', () => {
    expect(
      () =>
        new ImageClassifier(new ColourModel(), {
          preprocess: compilePreprocessOptions({ size: 4 }),
          unsafeLabels: ['gore'],
          batchWindowMs: 5,
          maxBatch: 64,
        }),
    ).toThrow(new RangeError('unsafeLabels: gore are not labels of colour@1'));
  });

  it('warms up with one inference', async () => {
    const model = new ColourModel();
    await classifier(model).warmUp();
    expect(model.batches).toEqual([1]);
  });
});
