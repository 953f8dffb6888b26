/**
 * `@crank/capabilities`: what a capability is (definition, schemas, semver), the contract error
 * codes, and the built-in catalog. Depends on nothing else of Crank's.
 *
 * @example
 * ```ts
 * import { defineCapability, CapabilityError, builtinCatalog } from '@crank/capabilities';
 *
 * const reverse = defineCapability<{ text: string }, { text: string }>({
 *   id: 'reverse.text',
 *   version: '1.0.0',
 *   inputSchema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
 *   outputSchema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
 *   errorCodes: ['INVALID_INPUT'],
 * });
 *
 * const input = reverse.assertInput({ text: 'abc' }); // throws InvalidInputError: "input /text: must be string"
 * if (input.text === '') throw new CapabilityError('INVALID_INPUT', 'text: must not be empty');
 * reverse.satisfies('^1'); // true
 *
 * const echo = builtinCatalog().get('debug.echo', '^1.0.0');
 * echo.assertOutput({ message: 'hi', workerId: 'w1', receivedAt: new Date().toISOString() });
 * ```
 *
 * @packageDocumentation
 */
export { GrpcStatus, type GrpcStatusCode, type GrpcStatusName } from './grpc-status.js';
export {
  CODE_OF_GRPC_STATUS,
  ERROR_CODES,
  ERROR_CODE_STATUS,
  HANDLER_IMPLICIT_CODES,
  WORKER_RUNTIME_CODES,
  grpcStatusOf,
  httpStatusOf,
  isErrorCode,
  type ErrorCode,
  type ErrorCodeStatus,
} from './error-codes.js';
export {
  CapabilityError,
  CapabilityMismatchError,
  ContractViolationError,
  CrankError,
  crankErrorFrom,
  crankErrorFromStatus,
  InvalidCapabilityError,
  InvalidInputError,
  NotFoundError,
  type CrankErrorJson,
  type CrankErrorOptions,
  type DefinitionIssue,
  type WireErrorInfo,
} from './errors.js';
export type { SchemaIssue } from './schema-issue.js';
export { schemaCacheSize, type JsonSchema } from './schema-compiler.js';
export {
  DEFAULT_MAX_CONCURRENCY,
  defineCapability,
  parseCapabilityDefinition,
  type CapabilityDefinition,
  type CapabilityDefinitionFields,
  type CapabilityDefinitionInit,
  type CapabilityResources,
  type CapabilityResourcesInit,
} from './capability-definition.js';
export { STREAMING_MODES, type StreamingMode } from './streaming-mode.js';
export { Capability, isJsonMediaType, mediaTypeOf } from './capability.js';
export { assertValidRange, describeVersions, pickHighest, satisfiesRange } from './version-range.js';
export { checkAgainstCatalog, compareWithCatalog } from './catalog-check.js';
export { CapabilityCatalog } from './catalog/capability-catalog.js';
export { BUILTIN_CAPABILITIES, builtinCatalog } from './catalog/index.js';
export {
  CLASSIFY_EMAIL,
  CLASSIFY_EMAIL_MAX_BYTES,
  CLASSIFY_EMAIL_TOP_FEATURES,
  type ClassifyEmailInput,
  type ClassifyEmailOutput,
  type EmailFeatureWeight,
} from './catalog/classify-email.js';
export {
  CLASSIFY_IMAGE,
  CLASSIFY_IMAGE_MEDIA_TYPES,
  type ClassifyImageAnswer,
  type ClassifyImageInput,
  type ClassifyImageOutput,
  type ImageClassification,
} from './catalog/classify-image.js';
export {
  CLASSIFY_SENTIMENT,
  CLASSIFY_SENTIMENT_MAX_CHARS,
  type ClassifySentimentInput,
  type ClassifySentimentOutput,
} from './catalog/classify-sentiment.js';
export {
  CONVERT_DOCUMENT,
  type ConvertDocumentInput,
  type ConvertDocumentOutput,
  type DocumentSourceFormat,
  type DocumentTargetFormat,
} from './catalog/convert-document.js';
export {
  DEBUG_ECHO,
  DEBUG_ECHO_STREAM,
  type DebugEchoInput,
  type DebugEchoOutput,
  type DebugEchoStreamInput,
  type DebugEchoStreamOutput,
} from './catalog/debug-echo.js';
export {
  WARNINGS_MAX,
  type EmailAddress,
  type EmailAttachment,
  type EmailSummaryFields,
  type EmailWarning,
} from './catalog/email-summary-schema.js';
export {
  PARSE_EMAIL,
  PARSE_EMAIL_MAX_BYTES,
  type ParseEmailInput,
  type ParseEmailOutput,
} from './catalog/parse-email.js';
export {
  PARSE_MBOX,
  type MboxGarbageReason,
  type ParseMboxGarbageRecord,
  type ParseMboxMessageRecord,
  type ParseMboxOptions,
  type ParseMboxRecord,
  type ParseMboxTotals,
  type ParseMboxTotalsRecord,
} from './catalog/parse-mbox.js';
export {
  STREAM_AGGREGATE,
  type AggregateEvent,
  type AggregateHeartbeatRecord,
  type AggregateLateRecord,
  type AggregateMalformedRecord,
  type AggregateQuery,
  type AggregateTotalsRecord,
  type AggregateWindow,
  type AggregateWindowRecord,
  type AggregationName,
  type StreamAggregateInput,
  type StreamAggregateOutput,
} from './catalog/stream-aggregate.js';
export {
  STREAM_CLASSIFY,
  type ClassifiedRecord,
  type ClassifyEvent,
  type ClassifyMalformedRecord,
  type ClassifyQuery,
  type ClassifyTotalsRecord,
  type LabelWindowRecord,
  type StreamClassifyInput,
  type StreamClassifyOutput,
  type UnclassifiedRecord,
} from './catalog/stream-classify.js';
