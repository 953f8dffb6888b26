import { Injectable } from '@nestjs/common';
import type { SpamModel } from './spam-model.js';

/** Where the loaded spam model lives: empty until `SpamModelLoader` has loaded it. */
@Injectable()
export class SpamModelSlot {
  /** The model; undefined while it loads (or when it failed to). */
  model: SpamModel | undefined;
}
