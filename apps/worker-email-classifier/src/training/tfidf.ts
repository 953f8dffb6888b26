import type { FeatureVector } from '../feature-vector.js';

/** A message as the model sees it: buckets and their L2-normalised TF-IDF weights. */
export interface SparseRow {
  readonly indices: Int32Array;
  readonly values: Float64Array;
}

/**
 * Smoothed inverse document frequency of each bucket over the training messages,
 * `ln((1 + n) / (1 + df)) + 1`: never zero, so that a feature seen everywhere still counts a little.
 */
export function inverseDocumentFrequency(vectors: readonly FeatureVector[], buckets: number): Float32Array {
  const df = new Uint32Array(buckets);
  for (const vector of vectors) for (const bucket of vector.indices) df[bucket] = (df[bucket] ?? 0) + 1;
  const idf = new Float32Array(buckets);
  for (let bucket = 0; bucket < buckets; bucket++) {
    idf[bucket] = Math.log((1 + vectors.length) / (1 + (df[bucket] ?? 0))) + 1;
  }
  return idf;
}

/** TF x IDF, scaled to unit length: what the graph computes from the same inputs. */
export function tfidfRow(vector: FeatureVector, idf: Float32Array): SparseRow {
  const values = new Float64Array(vector.indices.length);
  let norm = 0;
  vector.indices.forEach((bucket, i) => {
    const value = (vector.tf[i] ?? 0) * (idf[bucket] ?? 0);
    values[i] = value;
    norm += value * value;
  });
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < values.length; i++) values[i] = (values[i] ?? 0) / norm;
  return { indices: vector.indices, values };
}
