import { defineCapability } from '../capability-definition.js';
import { base64Schema, MIB } from './base64-schema.js';

/** Input of `classify.image`. */
export interface ClassifyImageInput {
  /** A JPEG, PNG or WebP image, base64. */
  image: string;
  /** How many predictions to return (1 to 20). @defaultValue 5 */
  topK?: number;
}

/** One prediction of `classify.image`. */
export interface ImagePrediction {
  label: string;
  /** Index of the label in the model's label list. */
  index: number;
  /** Probability, 0 to 1. */
  score: number;
}

/** Output of `classify.image`. */
export interface ClassifyImageOutput {
  /** Highest score first. */
  predictions: ImagePrediction[];
  model: string;
  device: 'cpu' | 'gpu';
}

const TOP_K_MAX = 20;

/**
 * `classify.image@1.0.0`: image classification with a pretrained model. CPU and GPU workers serve
 * the same contract and must give the same answers; `device` says which one did.
 */
export const CLASSIFY_IMAGE = defineCapability<ClassifyImageInput, ClassifyImageOutput>({
  id: 'classify.image',
  version: '1.0.0',
  description:
    'Classifies a JPEG, PNG or WebP image with a pretrained model and returns the topK labels, ' +
    'highest score first. Other image formats fail with UNSUPPORTED_FORMAT.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['image'],
    properties: {
      image: base64Schema('The image, base64 (JPEG, PNG or WebP; 20 MiB at most decoded).', 20 * MIB),
      topK: {
        type: 'integer',
        minimum: 1,
        maximum: TOP_K_MAX,
        default: 5,
        description: 'How many predictions to return.',
      },
    },
  },
  outputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['predictions', 'model', 'device'],
    properties: {
      predictions: {
        type: 'array',
        maxItems: TOP_K_MAX,
        description: 'Highest score first.',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['label', 'index', 'score'],
          properties: {
            label: {
              type: 'string',
              minLength: 1,
              maxLength: 256,
              description: 'Human-readable class name.',
            },
            index: {
              type: 'integer',
              minimum: 0,
              description: "Index of the label in the model's label list.",
            },
            score: { type: 'number', minimum: 0, maximum: 1, description: 'Probability of the label.' },
          },
        },
      },
      model: { type: 'string', minLength: 1, maxLength: 256, description: 'Name and version of the model.' },
      device: { type: 'string', enum: ['cpu', 'gpu'], description: 'Where the model ran.' },
    },
  },
  errorCodes: ['UNSUPPORTED_FORMAT', 'INVALID_INPUT', 'MODEL_NOT_READY'],
  idempotent: true,
  resources: { memoryMb: 1024 },
});
