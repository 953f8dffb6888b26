import { defineBuiltinCapability } from '../capability-definition.js';
import { base64Schema, MIB } from './base64-schema.js';

/** Largest image taken, raw or base64-decoded. */
const MAX_IMAGE_BYTES = 20 * MIB;
/** Most images one call may carry. */
const MAX_BATCH = 64;
/** Longest label, and most labels a model may have. */
const MAX_LABEL_CHARS = 64;
const MAX_LABELS = 1000;

/**
 * Input of `classify.image` in its JSON form; raw bytes of an image media type (a `Buffer`) are
 * the other, with `threshold` as a parameter of the type (`image/jpeg; threshold=0.3`).
 */
export interface ClassifyImageInput {
  /** One image, base64. Exactly one of `image` and `images`. */
  image?: string;
  /** A batch of 1 to 64 images, base64; answered in order, as `results`. */
  images?: string[];
  /** `safe` is true when `unsafeScore` is below it (0 to 1); the worker's default when left out. */
  threshold?: number;
}

/** What the classifier says about one image. */
export interface ImageClassification {
  /** The label with the highest score. */
  label: string;
  /** Its probability, 0 to 1. */
  score: number;
  /** Probability of every label of the model; they sum to 1. */
  scores: Record<string, number>;
  /** Summed probability of the labels the model counts as unsafe (for nsfwjs: hentai, porn, sexy). */
  unsafeScore: number;
  /** `unsafeScore < threshold`. */
  safe: boolean;
  /** Size of the image as shown (after its EXIF orientation). */
  width: number;
  height: number;
}

/** What every answer of `classify.image` carries besides the classifications. */
export interface ClassifyImageAnswer {
  /** The threshold `safe` was judged by. */
  threshold: number;
  /** Name and version of the model. */
  model: string;
  device: 'cpu' | 'gpu';
}

/** Output of `classify.image`: the classification of the one image, or `results` for a batch. */
export type ClassifyImageOutput =
  (ImageClassification & ClassifyImageAnswer) | ({ results: ImageClassification[] } & ClassifyImageAnswer);

/** The image types `classify.image` takes as raw bytes. */
export const CLASSIFY_IMAGE_MEDIA_TYPES = [
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/avif',
];

const probability = (description: string): Record<string, unknown> => ({
  type: 'number',
  minimum: 0,
  maximum: 1,
  description,
});

const classificationProperties = {
  label: {
    type: 'string',
    minLength: 1,
    maxLength: MAX_LABEL_CHARS,
    description: 'The label with the highest score.',
  },
  score: probability('Probability of the label.'),
  scores: {
    type: 'object',
    maxProperties: MAX_LABELS,
    propertyNames: { type: 'string', minLength: 1, maxLength: MAX_LABEL_CHARS },
    additionalProperties: { type: 'number', minimum: 0, maximum: 1 },
    description: 'Probability of every label of the model, by label.',
  },
  unsafeScore: probability('Summed probability of the labels the model counts as unsafe.'),
  safe: { type: 'boolean', description: 'Whether unsafeScore is below the threshold.' },
  width: {
    type: 'integer',
    minimum: 1,
    description: 'Width of the image as shown (EXIF orientation applied).',
  },
  height: {
    type: 'integer',
    minimum: 1,
    description: 'Height of the image as shown (EXIF orientation applied).',
  },
};
const CLASSIFICATION_FIELDS = ['label', 'score', 'scores', 'unsafeScore', 'safe', 'width', 'height'];

/**
 * `classify.image@2.0.0`: content moderation of images with a pretrained classifier. One image
 * (raw bytes of its media type, or base64 `image` in JSON) answers its label, score, every
 * label's score, `unsafeScore` and `safe` against a threshold; a batch (`images`, up to 64)
 * answers `results` in the same order. JPEG, PNG, WebP, GIF (first frame) and AVIF, up to 20 MiB
 * each, turned upright by their EXIF orientation. CPU and GPU workers serve the same contract;
 * `device` says which one did.
 *
 * 2.0.0 replaced 1.0.0, which no worker served: 1.0.0 promised ImageNet top-K predictions, and no
 * ImageNet model ships in a package the workers can install; the model they run (nsfwjs's
 * MobileNetV2) has five moderation classes, and callers want a verdict (`safe`), every score, and
 * batches.
 */
export const CLASSIFY_IMAGE = defineBuiltinCapability<ClassifyImageInput | Buffer, ClassifyImageOutput>({
  id: 'classify.image',
  version: '2.0.0',
  description:
    'Classifies images for content moderation with a pretrained model: the label, its score, every ' +
    "label's score, the summed score of the unsafe labels and safe (below the threshold). Send one " +
    'image as raw bytes of its media type (image/jpeg; threshold=0.3) or base64 in image, or up to ' +
    '64 in images (answered as results, in order). JPEG, PNG, WebP, GIF (first frame) and AVIF, ' +
    'up to 20 MiB each (PAYLOAD_TOO_LARGE beyond); other formats fail with UNSUPPORTED_FORMAT, ' +
    'corrupt images with INVALID_INPUT.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    oneOf: [{ required: ['image'] }, { required: ['images'] }],
    properties: {
      image: base64Schema(
        'One image, base64 (20 MiB at most decoded). Exactly one of image and images.',
        MAX_IMAGE_BYTES,
      ),
      images: {
        type: 'array',
        minItems: 1,
        maxItems: MAX_BATCH,
        items: base64Schema('An image, base64 (20 MiB at most decoded).', MAX_IMAGE_BYTES),
        description: 'A batch of 1 to 64 images, base64, answered as results in the same order.',
      },
      threshold: {
        type: 'number',
        minimum: 0,
        maximum: 1,
        description: "safe is true when unsafeScore is below it; the worker's default when left out.",
      },
    },
  },
  outputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['threshold', 'model', 'device'],
    oneOf: [{ required: CLASSIFICATION_FIELDS }, { required: ['results'] }],
    properties: {
      ...classificationProperties,
      results: {
        type: 'array',
        minItems: 1,
        maxItems: MAX_BATCH,
        description: 'For a batch: one classification per image, in the order sent.',
        items: {
          type: 'object',
          additionalProperties: false,
          required: CLASSIFICATION_FIELDS,
          properties: classificationProperties,
        },
      },
      threshold: probability('The threshold safe was judged by.'),
      model: { type: 'string', minLength: 1, maxLength: 256, description: 'Name and version of the model.' },
      device: { type: 'string', enum: ['cpu', 'gpu'], description: 'Where the model ran.' },
    },
  },
  errorCodes: ['UNSUPPORTED_FORMAT', 'INVALID_INPUT', 'PAYLOAD_TOO_LARGE', 'MODEL_NOT_READY'],
  inputMediaTypes: CLASSIFY_IMAGE_MEDIA_TYPES,
  idempotent: true,
  resources: { memoryMb: 1024 },
});
