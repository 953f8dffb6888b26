import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLASSIFY_EMAIL_TOP_FEATURES, type ClassifyEmailOutput } from '@crank/capabilities';
import * as ort from 'onnxruntime-node';
import { FEATURE_SET_VERSION } from './email-features.js';
import { FEATURE_BUCKETS, FEATURE_HASH_SEED, type FeatureVector } from './feature-vector.js';
import type { ModelCard } from './model-card.js';

/** Names of the graph's inputs and outputs, shared with the training that writes it. */
export const MODEL_IO = {
  /** int64 [N, K]: the buckets of each message, padded with 0. */
  indices: 'indices',
  /** float [N, K]: their sublinear term frequencies, padded with 0. */
  tf: 'tf',
  /** float [N]: probability of spam. */
  score: 'score',
  /** float [N, K]: each bucket's contribution to the log-odds of spam. */
  contributions: 'contributions',
} as const;

/** Thrown when a model directory holds no model this code can run. Thrown by {@link SpamModel.load}. */
export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
}

/**
 * The spam model: TF-IDF weighting and logistic regression as an ONNX graph, run by
 * onnxruntime-node, on features hashed here. Load it once; {@link classify} may be called
 * concurrently.
 */
export class SpamModel {
  protected constructor(
    readonly card: ModelCard,
    private readonly session: ort.InferenceSession,
  ) {}

  /**
   * Reads `model-card.json` and the graph it names from `dir`, and checks that they belong
   * together and to this code's feature set.
   *
   * @throws ModelLoadError naming the file and what is wrong with it
   */
  static async load(dir: string): Promise<SpamModel> {
    const cardPath = join(dir, 'model-card.json');
    let card: ModelCard;
    try {
      card = JSON.parse(await readFile(cardPath, 'utf8')) as ModelCard;
    } catch (error) {
      throw new ModelLoadError(
        `${cardPath}: cannot be read (${(error as Error).message}); run the train target`,
      );
    }
    const expected = { version: FEATURE_SET_VERSION, buckets: FEATURE_BUCKETS, hashSeed: FEATURE_HASH_SEED };
    if (JSON.stringify(card.featureSet) !== JSON.stringify(expected)) {
      throw new ModelLoadError(
        `${cardPath}: featureSet ${JSON.stringify(card.featureSet)} is not this code's ${JSON.stringify(expected)}; train again`,
      );
    }
    const graphPath = join(dir, card.modelFile);
    const bytes = await readFile(graphPath).catch((error: unknown) => {
      throw new ModelLoadError(`${graphPath}: cannot be read (${(error as Error).message})`);
    });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== card.modelSha256) {
      throw new ModelLoadError(`${graphPath}: sha256 ${sha256} is not the card's ${card.modelSha256}`);
    }
    // The graph is a few gathers and sums per message: more threads only cost hand-offs.
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    return new SpamModel(card, session);
  }

  /** Scores a message's features: its label, probability of spam and the strongest features. */
  async classify(features: FeatureVector): Promise<ClassifyEmailOutput> {
    const k = Math.max(1, features.indices.length);
    const indices = new BigInt64Array(k);
    const tf = new Float32Array(k);
    features.indices.forEach((bucket, i) => (indices[i] = BigInt(bucket)));
    tf.set(features.tf);
    const out = await this.session.run({
      [MODEL_IO.indices]: new ort.Tensor('int64', indices, [1, k]),
      [MODEL_IO.tf]: new ort.Tensor('float32', tf, [1, k]),
    });
    const score = (out[MODEL_IO.score]?.data as Float32Array)[0] ?? Number.NaN;
    const contributions = out[MODEL_IO.contributions]?.data as Float32Array;
    const order = features.names
      .map((_, i) => i)
      .filter((i) => (contributions[i] ?? 0) !== 0)
      .sort((a, b) => Math.abs(contributions[b] ?? 0) - Math.abs(contributions[a] ?? 0))
      .slice(0, CLASSIFY_EMAIL_TOP_FEATURES);
    return {
      label: score >= this.card.threshold ? 'spam' : 'ham',
      score: Math.min(1, Math.max(0, score)),
      topFeatures: order.map((i) => ({
        feature: (features.names[i] ?? '').slice(0, 256),
        weight: Math.round((contributions[i] ?? 0) * 1e4) / 1e4,
      })),
      model: this.card.model,
    };
  }

  /** Frees the session. */
  async close(): Promise<void> {
    await this.session.release();
  }
}
