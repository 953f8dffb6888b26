import { defineBuiltinCapability } from '../capability-definition.js';
import { MIB } from './base64-schema.js';

/**
 * Input of `classify.email` as JSON: the whole message in `raw`, or its parts. The message may
 * also come as raw bytes (`message/rfc822`).
 */
export type ClassifyEmailInput =
  | {
      /** The RFC 5322 message, as text or (with `encoding: 'base64'`) base64. */
      raw: string;
      encoding?: 'utf8' | 'base64';
    }
  | {
      subject?: string;
      from?: string;
      /** The text body. */
      body: string;
    };

/** A feature of the message that moved the score, and by how much. */
export interface EmailFeatureWeight {
  /** What the model saw, e.g. `body:click here`, `subject:free`, `from-domain:example.com`. */
  feature: string;
  /** Its contribution to the log-odds of spam: positive towards spam, negative towards ham. */
  weight: number;
}

/** Output of `classify.email`. */
export interface ClassifyEmailOutput {
  label: 'spam' | 'ham';
  /** Probability that the message is spam, 0 to 1. */
  score: number;
  /** The features of this message with the largest contributions, strongest first. */
  topFeatures: EmailFeatureWeight[];
  /** Name and version of the model that answered. */
  model: string;
}

/** Largest message taken: in characters of `raw` or `body`, or in bytes of a `message/rfc822` body. */
export const CLASSIFY_EMAIL_MAX_BYTES = 16 * MIB;

/** Most entries of `topFeatures`. */
export const CLASSIFY_EMAIL_TOP_FEATURES = 10;

/**
 * `classify.email@2.0.0`: spam or ham, with the model's probability of spam and the features that
 * pushed the decision. 2.0.0 takes a whole RFC 5322 message (as `raw` or `message/rfc822`
 * bytes) besides its parts, and answers `topFeatures`; 1.0.0 took only the parts.
 */
export const CLASSIFY_EMAIL = defineBuiltinCapability<ClassifyEmailInput | Buffer, ClassifyEmailOutput>({
  id: 'classify.email',
  version: '2.0.0',
  description:
    'Labels an email as spam or ham with a trained text classifier. Send the whole message as ' +
    '{ raw }, or as message/rfc822 bytes, or its parts as { subject, from, body }. label is "spam" ' +
    "when score, the model's probability of spam, is at least the model's threshold; topFeatures " +
    'are the features of the message that moved the score most.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    // The whole message or its parts, never both.
    oneOf: [{ required: ['raw'] }, { required: ['body'] }],
    properties: {
      raw: {
        type: 'string',
        minLength: 1,
        maxLength: CLASSIFY_EMAIL_MAX_BYTES,
        description:
          'The whole RFC 5322 message: text, or base64 when encoding is "base64" (16 MiB at most).',
      },
      encoding: {
        type: 'string',
        enum: ['utf8', 'base64'],
        default: 'utf8',
        description: 'How raw is written.',
      },
      subject: { type: 'string', maxLength: 4096, description: 'Subject header, decoded.' },
      from: { type: 'string', maxLength: 998, description: 'From header as written.' },
      body: {
        type: 'string',
        maxLength: CLASSIFY_EMAIL_MAX_BYTES,
        description: 'The text body (16 MiB characters at most).',
      },
    },
    dependencies: {
      encoding: ['raw'],
      subject: ['body'],
      from: ['body'],
    },
  },
  outputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['label', 'score', 'topFeatures', 'model'],
    properties: {
      label: { type: 'string', enum: ['spam', 'ham'], description: 'The verdict.' },
      score: { type: 'number', minimum: 0, maximum: 1, description: 'Probability of spam.' },
      topFeatures: {
        type: 'array',
        maxItems: CLASSIFY_EMAIL_TOP_FEATURES,
        description: 'The features that moved the score most, strongest first.',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['feature', 'weight'],
          properties: {
            feature: { type: 'string', minLength: 1, maxLength: 256, description: 'What the model saw.' },
            weight: {
              type: 'number',
              description: 'Contribution to the log-odds of spam (positive: towards spam).',
            },
          },
        },
      },
      model: { type: 'string', minLength: 1, maxLength: 256, description: 'Name and version of the model.' },
    },
  },
  errorCodes: ['INVALID_INPUT', 'MODEL_NOT_READY'],
  inputMediaTypes: ['message/rfc822'],
  idempotent: true,
  resources: { memoryMb: 256, maxConcurrency: 16 },
});
