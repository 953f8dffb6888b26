import { describe, expect, it } from '@jest/globals';
import type { ModelImage } from './decode-image.js';
import { toTensor } from './image-tensor.js';
import { compilePreprocessOptions } from './preprocess-options.js';

/** A 2 x 2 image whose pixel i is (10 i, 10 i + 1, 10 i + 2). */
const IMAGE: ModelImage = {
  format: 'png',
  width: 2,
  height: 2,
  pixels: Uint8Array.from([0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32]),
};

describe('toTensor', () => {
  it('lays a batch out as NCHW: each channel a plane, images one after another', () => {
    const { data, dims } = toTensor([IMAGE, IMAGE], compilePreprocessOptions({ size: 2, layout: 'nchw' }));
    expect(dims).toEqual([2, 3, 2, 2]);
    const first = Array.from(data.subarray(0, 12), (v) => Math.round(v * 255));
    expect(first).toEqual([0, 10, 20, 30, 1, 11, 21, 31, 2, 12, 22, 32]);
    expect(Array.from(data.subarray(12))).toEqual(Array.from(data.subarray(0, 12)));
  });

  it('lays it out as NHWC: the pixels as they are, scaled', () => {
    const { data, dims } = toTensor([IMAGE], compilePreprocessOptions({ size: 2, layout: 'nhwc' }));
    expect(dims).toEqual([1, 2, 2, 3]);
    expect(Array.from(data, (v) => Math.round(v * 255))).toEqual(Array.from(IMAGE.pixels));
  });

  it('subtracts the mean and divides by the std per channel, after scaling to 0..1', () => {
    const options = compilePreprocessOptions({
      size: 2,
      layout: 'nhwc',
      mean: [0.5, 0, 0],
      std: [0.5, 1, 2],
    });
    const { data } = toTensor([IMAGE], options);
    expect(data[9]).toBeCloseTo((30 / 255 - 0.5) / 0.5, 6);
    expect(data[10]).toBeCloseTo(31 / 255, 6);
    expect(data[11]).toBeCloseTo(32 / 255 / 2, 6);
  });

  it('refuses an image of another size', () => {
    expect(() => toTensor([IMAGE], compilePreprocessOptions({ size: 3 }))).toThrow(
      new RangeError('images[0]: has 4 pixels, expected 3 x 3'),
    );
  });
});

describe('compilePreprocessOptions', () => {
  it('fills the defaults of nsfwjs-style models', () => {
    expect(compilePreprocessOptions()).toEqual({
      size: 224,
      layout: 'nchw',
      mean: [0, 0, 0],
      std: [1, 1, 1],
      maxPixels: 100_000_000,
      background: '#ffffff',
    });
  });

  it('names the option and its rule', () => {
    expect(() => compilePreprocessOptions({ size: 0 })).toThrow(
      'size: must be an integer from 1 to 4096 (got 0)',
    );
    expect(() => compilePreprocessOptions({ std: [1, 0, 1] })).toThrow('std: must be three positive numbers');
  });
});
