import type { SparseRow } from './tfidf.js';

/** Settings of {@link trainLogisticRegression}. */
export interface LogisticRegressionOptions {
  /** L2 penalty on the weights (not the bias). */
  l2: number;
  /** Full passes over the training set, one Adam step each. */
  iterations: number;
  learningRate: number;
  /**
   * How much more the negative class weighs than the positive one: above 1, a false positive
   * costs more than a false negative. @default 1
   */
  negativeWeight?: number;
}

/** A trained linear model: `sigmoid(bias + weights . x)` is the probability of the positive class. */
export interface LinearModel {
  weights: Float32Array;
  bias: number;
  /** Mean weighted log-loss on the training set after the last step. */
  loss: number;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** The model's logit for one row. */
export function logitOf(model: { weights: ArrayLike<number>; bias: number }, row: SparseRow): number {
  let z = model.bias;
  row.indices.forEach((bucket, i) => (z += (model.weights[bucket] ?? 0) * (row.values[i] ?? 0)));
  return z;
}

/**
 * Logistic regression with an L2 penalty, by full-batch Adam from all-zero weights. The classes
 * are weighted to count equally whatever their sizes (or as `negativeWeight` says). Nothing is sampled or shuffled, so the same
 * rows give the same model, bit for bit, on every run.
 */
export function trainLogisticRegression(
  rows: readonly SparseRow[],
  labels: readonly boolean[],
  buckets: number,
  options: LogisticRegressionOptions,
): LinearModel {
  // Each class weighs the same in total, the negative one times negativeWeight; weights sum to 1.
  const negativeWeight = options.negativeWeight ?? 1;
  const positives = labels.filter(Boolean).length;
  const sampleWeight = (r: number): number =>
    labels[r]
      ? 1 / (1 + negativeWeight) / positives
      : negativeWeight / (1 + negativeWeight) / (rows.length - positives);
  const w = new Float64Array(buckets);
  const m = new Float64Array(buckets);
  const v = new Float64Array(buckets);
  const grad = new Float64Array(buckets);
  let b = 0;
  let mb = 0;
  let vb = 0;
  let loss = 0;
  const beta1 = 0.9;
  const beta2 = 0.999;
  const epsilon = 1e-8;
  const model = { weights: w, bias: 0 };
  for (let step = 1; step <= options.iterations; step++) {
    grad.fill(0);
    let gradBias = 0;
    loss = 0;
    model.bias = b;
    rows.forEach((row, r) => {
      const label = labels[r] ?? false;
      const weight = sampleWeight(r);
      const p = sigmoid(logitOf(model, row));
      loss -= weight * Math.log(Math.max(1e-12, label ? p : 1 - p));
      const error = weight * (p - (label ? 1 : 0));
      row.indices.forEach((bucket, i) => (grad[bucket] = (grad[bucket] ?? 0) + error * (row.values[i] ?? 0)));
      gradBias += error;
    });
    const lr = (options.learningRate * Math.sqrt(1 - beta2 ** step)) / (1 - beta1 ** step);
    for (let j = 0; j < buckets; j++) {
      const g = (grad[j] ?? 0) + options.l2 * (w[j] ?? 0);
      if (g === 0 && (m[j] ?? 0) === 0) continue; // a bucket no training message has
      m[j] = beta1 * (m[j] ?? 0) + (1 - beta1) * g;
      v[j] = beta2 * (v[j] ?? 0) + (1 - beta2) * g * g;
      w[j] = (w[j] ?? 0) - (lr * (m[j] ?? 0)) / (Math.sqrt(v[j] ?? 0) + epsilon);
    }
    mb = beta1 * mb + (1 - beta1) * gradBias;
    vb = beta2 * vb + (1 - beta2) * gradBias * gradBias;
    b -= (lr * mb) / (Math.sqrt(vb) + epsilon);
  }
  return { weights: Float32Array.from(w), bias: b, loss };
}
