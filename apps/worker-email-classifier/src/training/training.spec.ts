import { describe, expect, it } from '@jest/globals';
import * as ort from 'onnxruntime-node';
import { MODEL_IO } from '../spam-model.js';
import { inTestSplit } from './corpus.js';
import { logitOf, trainLogisticRegression } from './logistic-regression.js';
import { testMetrics } from './metrics.js';
import { spamModelGraph } from './onnx-graph.js';
import { tfidfRow } from './tfidf.js';

describe('inTestSplit', () => {
  it('puts about a fifth of the file names in the test split, the same ones every time', () => {
    const files = Array.from({ length: 5000 }, (_, i) => `spam-2/${String(i).padStart(5, '0')}.x`);
    const share = files.filter(inTestSplit).length / files.length;
    expect(share).toBeGreaterThan(0.18);
    expect(share).toBeLessThan(0.22);
    expect(files.filter(inTestSplit)).toEqual(files.filter(inTestSplit));
  });
});

describe('trainLogisticRegression', () => {
  // Bucket 0 says spam, bucket 1 says ham, bucket 2 says nothing.
  const rows = [
    { indices: Int32Array.of(0, 2), values: Float64Array.of(0.8, 0.6) },
    { indices: Int32Array.of(0), values: Float64Array.of(1) },
    { indices: Int32Array.of(1, 2), values: Float64Array.of(0.8, 0.6) },
    { indices: Int32Array.of(1), values: Float64Array.of(1) },
    { indices: Int32Array.of(1), values: Float64Array.of(1) },
  ];
  const labels = [true, true, false, false, false];
  const options = { l2: 1e-4, iterations: 200, learningRate: 0.1 };

  it('separates what is separable, and gives the telling buckets their sign', () => {
    const model = trainLogisticRegression(rows, labels, 4, options);
    rows.forEach((row, i) => expect(logitOf(model, row) > 0).toBe(labels[i]));
    expect(model.weights[0]).toBeGreaterThan(0);
    expect(model.weights[1]).toBeLessThan(0);
    expect(model.weights[3]).toBe(0); // no message has it
    expect(model.loss).toBeLessThan(0.1);
  });

  it('is deterministic: the same rows give the same weights', () => {
    const a = trainLogisticRegression(rows, labels, 4, options);
    const b = trainLogisticRegression(rows, labels, 4, options);
    expect([...a.weights, a.bias]).toEqual([...b.weights, b.bias]);
  });
});

describe('spamModelGraph', () => {
  it('computes, in onnxruntime, the score and contributions of the linear model over TF-IDF', async () => {
    const idf = Float32Array.of(1, 2, 0.5, 1);
    const weights = Float32Array.of(3, -2, 0.25, 7);
    const bias = -0.5;
    const session = await ort.InferenceSession.create(spamModelGraph({ idf, weights, bias }, 'test'));
    const vector = {
      indices: Int32Array.of(0, 2),
      tf: Float32Array.of(1, 1 + Math.log(2)),
      names: ['a', 'c'],
    };
    // Two messages in one batch, the second padded with a zero term frequency.
    const out = await session.run({
      [MODEL_IO.indices]: new ort.Tensor('int64', BigInt64Array.of(0n, 2n, 1n, 0n), [2, 2]),
      [MODEL_IO.tf]: new ort.Tensor('float32', Float32Array.of(1, 1 + Math.log(2), 1, 0), [2, 2]),
    });
    const row = tfidfRow(vector, idf);
    const expected = 1 / (1 + Math.exp(-logitOf({ weights, bias }, row)));
    const scores = out[MODEL_IO.score]?.data as Float32Array;
    const contributions = out[MODEL_IO.contributions]?.data as Float32Array;
    expect(scores[0]).toBeCloseTo(expected, 5);
    expect(contributions[0]).toBeCloseTo((row.values[0] ?? 0) * 3, 5);
    expect(scores[1]).toBeCloseTo(1 / (1 + Math.exp(-(-2 + bias))), 5);
    expect(contributions[3]).toBe(0);
    await session.release();
  });
});

describe('testMetrics', () => {
  it('counts the confusion matrix, F1 and the hard-ham false positives', () => {
    const metrics = testMetrics([
      { group: 'spam-1', spam: true, labelledSpam: true },
      { group: 'spam-1', spam: true, labelledSpam: false },
      { group: 'easy-ham-1', spam: false, labelledSpam: false },
      { group: 'hard-ham-1', spam: false, labelledSpam: true },
      { group: 'hard-ham-1', spam: false, labelledSpam: false },
    ]);
    expect(metrics).toMatchObject({
      messages: 5,
      accuracy: 0.6,
      precision: 0.5,
      recall: 0.5,
      f1: 0.5,
      confusion: { truePositives: 1, falsePositives: 1, trueNegatives: 2, falseNegatives: 1 },
      hardHam: { messages: 2, falsePositives: 1, falsePositiveRate: 0.5 },
    });
  });
});
