import { defineBuiltinCapability } from '../capability-definition.js';

/** Input of `classify.sentiment`. */
export interface ClassifySentimentInput {
  /** The text: a sentence, a review, an email body. */
  text: string;
}

/** Output of `classify.sentiment`. */
export interface ClassifySentimentOutput {
  label: 'positive' | 'neutral' | 'negative';
  /** Valence of the whole text, -1 (most negative) to 1 (most positive). */
  score: number;
  /** Name and version of the model that answered. */
  model: string;
}

/** Longest text taken, in characters. */
export const CLASSIFY_SENTIMENT_MAX_CHARS = 100_000;

/**
 * `classify.sentiment@1.0.0`: positive, neutral or negative, from a lexicon model (valence of
 * words, with negation, intensifiers, capitals and punctuation taken into account).
 */
export const CLASSIFY_SENTIMENT = defineBuiltinCapability<ClassifySentimentInput, ClassifySentimentOutput>({
  id: 'classify.sentiment',
  version: '1.0.0',
  description:
    'Labels a text positive, neutral or negative with a lexicon sentiment model. score is the ' +
    'valence of the whole text, -1 to 1; the label is positive from 0.05 up, negative from -0.05 ' +
    'down, neutral between.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['text'],
    properties: {
      text: {
        type: 'string',
        maxLength: CLASSIFY_SENTIMENT_MAX_CHARS,
        description: 'The text (100,000 characters at most).',
      },
    },
  },
  outputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['label', 'score', 'model'],
    properties: {
      label: { type: 'string', enum: ['positive', 'neutral', 'negative'], description: 'The verdict.' },
      score: { type: 'number', minimum: -1, maximum: 1, description: 'Valence, -1 to 1.' },
      model: { type: 'string', minLength: 1, maxLength: 256, description: 'Name and version of the model.' },
    },
  },
  errorCodes: ['INVALID_INPUT'],
  idempotent: true,
  resources: { memoryMb: 64, maxConcurrency: 16 },
});
