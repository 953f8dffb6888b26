import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as tf from '@tensorflow/tfjs';
import { load, type NSFWJS } from 'nsfwjs';
import { compilePreprocessOptions, decodeImage, toTensor, type ModelImage } from '@crank/vision';
import { OnnxImageModel } from '../src/image-model.js';
import { NSFW_MODEL } from '../src/nsfw-model.js';
import { evaluationImages, EXPECTED_LABELS } from './eval-images.js';

/** The model the build converts (the `model` target, which `test` depends on). */
const ONNX_PATH = new URL('../model/nsfwjs-mobilenet-v2.onnx', import.meta.url).pathname;

/**
 * The converted model against the original: nsfwjs's own Keras model run by TF.js's pure-JS CPU
 * backend, on the same preprocessed pixels (NHWC for TF.js, NCHW for ONNX). Both must pick the same
 * label for every evaluation image, with no probability more than 1e-4 apart.
 */
describe('the converted ONNX model', () => {
  let original: NSFWJS;
  let converted: OnnxImageModel;
  let images: { name: string; image: ModelImage }[];

  beforeAll(async () => {
    if (!existsSync(ONNX_PATH)) throw new Error(`${ONNX_PATH} is missing: run the model target first`);
    await tf.setBackend('cpu');
    original = await load('MobileNetV2');
    converted = await OnnxImageModel.load(ONNX_PATH, {
      threads: 2,
      name: NSFW_MODEL.name,
      labels: NSFW_MODEL.labels,
    });
    images = await Promise.all(
      (await evaluationImages()).map(async ({ name, bytes }) => ({
        name,
        image: await decodeImage(bytes, NSFW_MODEL.preprocess),
      })),
    );
  }, 120_000);

  afterAll(async () => {
    await converted?.close();
    original?.dispose();
  });

  it('agrees with the original on every evaluation image: same top-1, probabilities within 1e-4', async () => {
    const nhwc = toTensor(
      images.map(({ image }) => image),
      compilePreprocessOptions({ ...NSFW_MODEL.preprocess, layout: 'nhwc' }),
    );
    const expected = tf.tidy(
      () =>
        original.model.predict(
          tf.tensor4d(nhwc.data, nhwc.dims as [number, number, number, number]),
        ) as tf.Tensor,
    );
    const reference = (await expected.array()) as number[][];
    expected.dispose();
    const actual = await converted.classify(
      toTensor(
        images.map(({ image }) => image),
        NSFW_MODEL.preprocess,
      ),
    );

    let maxDiff = 0;
    const rows = images.map(({ name }, i) => {
      const want = reference[i] as number[];
      const got = Array.from(actual[i] as Float32Array);
      const diff = Math.max(...want.map((p, k) => Math.abs(p - (got[k] ?? 0))));
      maxDiff = Math.max(maxDiff, diff);
      return { name, original: argmax(want), converted: argmax(got), diff };
    });
    expect(rows.map(({ name, original }) => [name, original])).toEqual(
      rows.map(({ name, converted }) => [name, converted]),
    );
    expect(maxDiff).toBeLessThan(1e-4);
    console.info(
      `model verification: ${rows.length} images, same top-1 on all, max |p - p'| = ${maxDiff.toExponential(2)}`,
    );
  });

  it('gives the evaluation photographs and drawings the labels written down for them', async () => {
    const named = images.filter(({ name }) => name in EXPECTED_LABELS);
    const rows = await converted.classify(
      toTensor(
        named.map(({ image }) => image),
        NSFW_MODEL.preprocess,
      ),
    );
    const labels = Object.fromEntries(
      named.map(({ name }, i) => [name, NSFW_MODEL.labels[argmax(Array.from(rows[i] as Float32Array))]]),
    );
    expect(labels).toEqual(EXPECTED_LABELS);
  });
});

function argmax(values: readonly number[]): number {
  return values.reduce((best, value, index) => (value > (values[best] ?? -Infinity) ? index : best), 0);
}
