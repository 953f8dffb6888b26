import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';

/** Settings of the email-classifier worker, read from the environment by `main.ts`. */
export interface ClassifierConfig {
  /** Directory holding `model-card.json` and the graph it names. */
  modelDir: string;
  logger: Logger;
}

/** Injection token of {@link ClassifierConfig}. */
export const CLASSIFIER_CONFIG = Symbol('crank:email-classifier-config');

/** Where `nx run worker-email-classifier:train` writes the model: `model/` beside `dist/`. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../model/', import.meta.url));
