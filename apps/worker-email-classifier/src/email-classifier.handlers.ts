import { Inject, Injectable } from '@nestjs/common';
import {
  CLASSIFY_EMAIL,
  CLASSIFY_SENTIMENT,
  type ClassifyEmailInput,
  type ClassifyEmailOutput,
  type ClassifySentimentInput,
  type ClassifySentimentOutput,
} from '@crank/capabilities';
import { CapabilityError } from '@crank/worker-runtime';
import { CapabilityHandler } from '@crank/worker-runtime/nest';
import { partsOfInput } from './email-input.js';
import { featuresOf } from './email-features.js';
import { hashFeatures } from './feature-vector.js';
import { sentimentOf } from './sentiment.js';
import { SpamModelSlot } from './spam-model-slot.js';

/** `classify.email` and `classify.sentiment`: the worker's business logic. */
@Injectable()
export class EmailClassifierHandlers {
  constructor(@Inject(SpamModelSlot) private readonly slot: SpamModelSlot) {}

  /**
   * A message, whole (`message/rfc822` bytes or `{ raw }`) or as `{ subject, from, body }`, to
   * spam or ham. Served not ready until the model is loaded (see `SpamModelLoader`).
   */
  @CapabilityHandler(CLASSIFY_EMAIL, { ready: false, reason: 'loading the spam model' })
  async classifyEmail(input: ClassifyEmailInput | Buffer): Promise<ClassifyEmailOutput> {
    const model = this.slot.model;
    if (!model)
      throw new CapabilityError('MODEL_NOT_READY', 'classify.email: the spam model is still loading');
    return model.classify(hashFeatures(featuresOf(partsOfInput(input))));
  }

  /** A text to positive, neutral or negative. */
  @CapabilityHandler(CLASSIFY_SENTIMENT)
  classifySentiment(input: ClassifySentimentInput): ClassifySentimentOutput {
    return sentimentOf(input.text);
  }
}
