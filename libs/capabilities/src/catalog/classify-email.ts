import { defineCapability } from '../capability-definition.js';
import { MIB } from './base64-schema.js';

/** Input of `classify.email`. */
export interface ClassifyEmailInput {
  subject?: string;
  from?: string;
  /** The text body. */
  body: string;
}

/** Output of `classify.email`. */
export interface ClassifyEmailOutput {
  label: 'spam' | 'ham';
  /** Probability that the message is spam, 0 to 1. */
  score: number;
  /** Name and version of the model that answered. */
  model: string;
}

/** `classify.email@1.0.0`: spam or ham, with the model's probability of spam. */
export const CLASSIFY_EMAIL = defineCapability<ClassifyEmailInput, ClassifyEmailOutput>({
  id: 'classify.email',
  version: '1.0.0',
  description:
    'Labels an email as spam or ham with a trained text classifier. label is "spam" when score, the ' +
    "model's probability of spam, is at least the worker's threshold.",
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['body'],
    properties: {
      subject: { type: 'string', maxLength: 4096, description: 'Subject header, decoded.' },
      from: { type: 'string', maxLength: 998, description: 'From header as written.' },
      body: { type: 'string', maxLength: MIB, description: 'The text body (1 MiB characters at most).' },
    },
  },
  outputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['label', 'score', 'model'],
    properties: {
      label: { type: 'string', enum: ['spam', 'ham'], description: 'The verdict.' },
      score: { type: 'number', minimum: 0, maximum: 1, description: 'Probability of spam.' },
      model: { type: 'string', minLength: 1, maxLength: 256, description: 'Name and version of the model.' },
    },
  },
  errorCodes: ['INVALID_INPUT', 'MODEL_NOT_READY'],
  idempotent: true,
  resources: { memoryMb: 256 },
});
