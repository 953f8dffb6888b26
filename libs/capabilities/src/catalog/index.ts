import type { Capability } from '../capability.js';
import { CapabilityCatalog } from './capability-catalog.js';
import { CLASSIFY_EMAIL } from './classify-email.js';
import { CLASSIFY_IMAGE } from './classify-image.js';
import { CLASSIFY_SENTIMENT } from './classify-sentiment.js';
import { CONVERT_DOCUMENT } from './convert-document.js';
import { DEBUG_ECHO, DEBUG_ECHO_STREAM } from './debug-echo.js';
import { PARSE_EMAIL } from './parse-email.js';
import { PARSE_MBOX } from './parse-mbox.js';
import { STREAM_AGGREGATE } from './stream-aggregate.js';
import { STREAM_CLASSIFY } from './stream-classify.js';

/** The capabilities the platform ships, sorted by id. */
export const BUILTIN_CAPABILITIES: readonly Capability[] = Object.freeze([
  CLASSIFY_EMAIL,
  CLASSIFY_IMAGE,
  CLASSIFY_SENTIMENT,
  CONVERT_DOCUMENT,
  DEBUG_ECHO,
  DEBUG_ECHO_STREAM,
  PARSE_EMAIL,
  PARSE_MBOX,
  STREAM_AGGREGATE,
  STREAM_CLASSIFY,
]);

let builtin: CapabilityCatalog | undefined;

/** The catalog of {@link BUILTIN_CAPABILITIES}; one shared instance, as it is immutable. */
export function builtinCatalog(): CapabilityCatalog {
  builtin ??= new CapabilityCatalog(BUILTIN_CAPABILITIES);
  return builtin;
}
