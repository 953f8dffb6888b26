import murmurhash from 'murmurhash';

/**
 * Features are hashed into this many buckets (2^18): no vocabulary to ship or keep in step, and
 * few collisions among the tens of thousands of features the corpus has.
 */
export const FEATURE_BUCKETS = 1 << 18;
/** Seed of the feature hash; part of the feature set, as the buckets depend on it. */
export const FEATURE_HASH_SEED = 0x6372;

/** A message's features hashed into buckets: what the model takes. */
export interface FeatureVector {
  /** Bucket of each feature, ascending, each once. */
  readonly indices: Int32Array;
  /** Sublinear term frequency of each bucket: 1 + ln(count). */
  readonly tf: Float32Array;
  /** A readable name for each bucket (its most frequent feature in this message). */
  readonly names: readonly string[];
}

/** The bucket of a feature. */
export function bucketOf(feature: string): number {
  return murmurhash.v3(feature, FEATURE_HASH_SEED) & (FEATURE_BUCKETS - 1);
}

/** Hashes counted features into a {@link FeatureVector}; colliding features add up. */
export function hashFeatures(features: ReadonlyMap<string, number>): FeatureVector {
  const buckets = new Map<number, { count: number; name: string; top: number }>();
  for (const [name, count] of features) {
    const bucket = bucketOf(name);
    const seen = buckets.get(bucket);
    if (!seen) buckets.set(bucket, { count, name, top: count });
    else {
      seen.count += count;
      if (count > seen.top) Object.assign(seen, { name, top: count });
    }
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  return {
    indices: Int32Array.from(sorted, ([bucket]) => bucket),
    tf: Float32Array.from(sorted, ([, { count }]) => 1 + Math.log(count)),
    names: sorted.map(([, { name }]) => name),
  };
}
