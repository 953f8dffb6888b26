/** Counts of a binary confusion matrix, spam being the positive class. */
export interface ConfusionMatrix {
  /** Spam labelled spam. */
  truePositives: number;
  /** Ham labelled spam. */
  falsePositives: number;
  /** Ham labelled ham. */
  trueNegatives: number;
  /** Spam labelled ham. */
  falseNegatives: number;
}

/** How the model did on the messages of the test split. */
export interface TestMetrics {
  messages: number;
  accuracy: number;
  /** Of the messages labelled spam, the share that are spam. */
  precision: number;
  /** Of the spam, the share labelled spam. */
  recall: number;
  f1: number;
  confusion: ConfusionMatrix;
  /** The hard ham of the test split (ham that looks like spam) and how much of it was labelled spam. */
  hardHam: { messages: number; falsePositives: number; falsePositiveRate: number };
  /** Messages and errors per corpus group. */
  byGroup: Record<string, { messages: number; errors: number }>;
}

/**
 * `model-card.json`, written by the training beside `model.onnx`: what the model is, what it was
 * trained on, how, and how it does on data it never saw.
 */
export interface ModelCard {
  /** `name@version`, answered with every classification. */
  model: string;
  /** File of the ONNX graph, beside the card. */
  modelFile: string;
  /** SHA-256 of that file, checked at load. */
  modelSha256: string;
  /** The feature set the weights belong to (see `email-features.ts` and `feature-vector.ts`). */
  featureSet: { version: number; buckets: number; hashSeed: number };
  /** Score from which a message is labelled spam. */
  threshold: number;
  data: {
    package: string;
    version: string;
    messages: number;
    groups: Record<string, number>;
    sha256: string;
  };
  split: { rule: string; train: number; test: number };
  training: {
    algorithm: string;
    l2: number;
    iterations: number;
    learningRate: number;
    negativeWeight: number;
    /** Wall time of the training run: reading the corpus, features, fitting. */
    durationMs: number;
  };
  test: TestMetrics;
}
