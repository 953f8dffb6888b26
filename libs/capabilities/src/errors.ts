import { CODE_OF_GRPC_STATUS, ERROR_CODE_STATUS, isErrorCode, type ErrorCode } from './error-codes.js';
import { GrpcStatus, type GrpcStatusCode } from './grpc-status.js';
import type { SchemaIssue } from './schema-issue.js';

/** Options shared by every {@link CrankError}. */
export interface CrankErrorOptions {
  /** Structured, JSON-serialisable facts for callers (sent on the wire). */
  details?: Record<string, unknown>;
  /** The error that led to this one (ES2022 `cause`); never sent on the wire. */
  cause?: unknown;
  /** Overrides the code's default from {@link ERROR_CODE_STATUS}. */
  retryable?: boolean;
}

/** The wire form of a {@link CrankError}, as `toJSON()` returns it. */
export interface CrankErrorJson {
  readonly code: ErrorCode;
  readonly message: string;
  /** Always an object (empty when there is nothing to add), whatever the code. */
  readonly details: Record<string, unknown>;
}

/**
 * Base of every error that carries a contract {@link ErrorCode}. Transports turn it into a gRPC
 * status plus trailing metadata, or an HTTP status plus a JSON body, from `code` alone.
 */
export class CrankError extends Error {
  /** The contract error code. */
  readonly code: ErrorCode;
  /** Whether sending the same call again may succeed. */
  readonly retryable: boolean;
  /** Structured facts for callers; must stay JSON-serialisable. */
  readonly details?: Record<string, unknown>;

  /**
   * @param code - the contract error code
   * @param message - a sentence that names the field or thing at fault and the rule it broke
   */
  constructor(code: ErrorCode, message: string, options: CrankErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODE_STATUS[code].retryable;
    if (options.details !== undefined) this.details = options.details;
  }

  /** The gRPC status to send with this error. */
  get grpcStatus(): GrpcStatusCode {
    return ERROR_CODE_STATUS[this.code].grpcStatus;
  }

  /** The HTTP status to send with this error. */
  get httpStatus(): number {
    return ERROR_CODE_STATUS[this.code].httpStatus;
  }

  /** The wire form: code, message and details; the stack and cause stay in this process. */
  toJSON(): CrankErrorJson {
    return { code: this.code, message: this.message, details: this.details ?? {} };
  }
}

/**
 * Thrown when a payload sent to a capability breaks its input schema (`INVALID_INPUT`). `errors`
 * lists every broken rule; they are also sent as `details.errors`.
 */
export class InvalidInputError extends CrankError {
  /** Every way the payload breaks the schema. */
  readonly errors: readonly SchemaIssue[];

  constructor(message: string, errors: readonly SchemaIssue[] = [], options: CrankErrorOptions = {}) {
    super('INVALID_INPUT', message, { ...options, details: { ...options.details, errors } });
    this.errors = errors;
  }
}

/**
 * Thrown when a worker's output breaks the capability's output schema (`CONTRACT_VIOLATION`): the
 * worker, not the caller, is at fault. `errors` are also sent as `details.errors`.
 */
export class ContractViolationError extends CrankError {
  /** Every way the output breaks the schema. */
  readonly errors: readonly SchemaIssue[];

  constructor(message: string, errors: readonly SchemaIssue[] = [], options: CrankErrorOptions = {}) {
    super('CONTRACT_VIOLATION', message, { ...options, details: { ...options.details, errors } });
    this.errors = errors;
  }
}

/** One broken rule in a capability definition. */
export interface DefinitionIssue {
  /** The field at fault, e.g. `version`, `resources.maxConcurrency`, `errorCodes[1]`. */
  readonly field: string;
  /** A short rule name, e.g. `semver`, `required`, `compilable`. */
  readonly rule: string;
  /** What is wrong, without the field name, e.g. `must be a semver version (got "1.x")`. */
  readonly message: string;
}

/**
 * Thrown when a capability definition breaks the definition rules (`INVALID_CAPABILITY`), by
 * `defineCapability` for authors and `parseCapabilityDefinition` for definitions from the wire.
 * The message lists every broken field as `field: rule`; `issues` holds them one by one.
 */
export class InvalidCapabilityError extends CrankError {
  /** Every broken rule, in field order. */
  readonly issues: readonly DefinitionIssue[];

  constructor(message: string, issues: readonly DefinitionIssue[] = [], options: CrankErrorOptions = {}) {
    super('INVALID_CAPABILITY', message, { ...options, details: { ...options.details, issues } });
    this.issues = issues;
  }
}

/**
 * Thrown when a worker declares a capability that contradicts the catalog entry with the same id
 * and major version (`CAPABILITY_MISMATCH`). `contradictions` lists each one in words.
 */
export class CapabilityMismatchError extends CrankError {
  /** Each contradiction, e.g. `streaming: declared "output", catalog "bidi"`. */
  readonly contradictions: readonly string[];

  constructor(message: string, contradictions: readonly string[] = [], options: CrankErrorOptions = {}) {
    super('CAPABILITY_MISMATCH', message, { ...options, details: { ...options.details, contradictions } });
    this.contradictions = contradictions;
  }
}

/** Thrown when a capability, version, job or worker that a call names does not exist (`NOT_FOUND`). */
export class NotFoundError extends CrankError {
  constructor(message: string, options: CrankErrorOptions = {}) {
    super('NOT_FOUND', message, options);
  }
}

/**
 * Thrown by worker handlers to fail a call with any contract code, e.g.
 * `throw new CapabilityError('UNSUPPORTED_FORMAT', 'from: "docx" is not supported')`. The runtime
 * sends the code, message and details to the caller unchanged.
 */
export class CapabilityError extends CrankError {
  constructor(
    code: ErrorCode,
    message: string,
    details?: Record<string, unknown>,
    options: Omit<CrankErrorOptions, 'details'> = {},
  ) {
    super(code, message, details === undefined ? options : { ...options, details });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads `details[key]` as an array, or `[]`: wire details come from other processes and may lie. */
function arrayAt<T>(details: Record<string, unknown> | undefined, key: string): T[] {
  const value = details?.[key];
  return Array.isArray(value) ? (value as T[]) : [];
}

/**
 * Rebuilds the matching error class from a code and message received on the wire, so that callers
 * can `catch (e) { if (e instanceof InvalidInputError) ... }` across processes. An unknown code
 * becomes `INTERNAL`, keeping the code as `details.originalCode`.
 *
 * @param options - `retryable` as the sender said, and the transport error as `cause`
 */
export function crankErrorFrom(
  code: string,
  message: string,
  details?: Record<string, unknown>,
  options: Omit<CrankErrorOptions, 'details'> = {},
): CrankError {
  const safeDetails = isRecord(details) ? details : undefined;
  if (!isErrorCode(code)) {
    return new CapabilityError('INTERNAL', message, { ...safeDetails, originalCode: code }, options);
  }
  const withDetails: CrankErrorOptions =
    safeDetails === undefined ? options : { ...options, details: safeDetails };
  switch (code) {
    case 'INVALID_INPUT':
      return new InvalidInputError(message, arrayAt<SchemaIssue>(safeDetails, 'errors'), withDetails);
    case 'CONTRACT_VIOLATION':
      return new ContractViolationError(message, arrayAt<SchemaIssue>(safeDetails, 'errors'), withDetails);
    case 'INVALID_CAPABILITY':
      return new InvalidCapabilityError(
        message,
        arrayAt<DefinitionIssue>(safeDetails, 'issues'),
        withDetails,
      );
    case 'CAPABILITY_MISMATCH':
      return new CapabilityMismatchError(
        message,
        arrayAt<string>(safeDetails, 'contradictions'),
        withDetails,
      );
    case 'NOT_FOUND':
      return new NotFoundError(message, withDetails);
    default:
      return new CapabilityError(code, message, safeDetails, options);
  }
}

/** The contract error of a gRPC failure, as decoded from its `crank-error-bin` trailer. */
export interface WireErrorInfo {
  code: string;
  message: string;
  details?: Record<string, unknown> | undefined;
  retryable: boolean;
}

/** Messages for bare statuses whose transport text only means something to grpc's authors. */
const BARE_STATUS_MESSAGES: Partial<Record<number, string>> = {
  [GrpcStatus.DEADLINE_EXCEEDED]: 'the deadline passed before the call completed',
  [GrpcStatus.CANCELLED]: 'the call was cancelled',
};

/** Longest transport text kept in a message; the full text stays in `cause`. */
const TRANSPORT_TEXT_MAX = 200;

/**
 * The typed error of a gRPC failure. With a contract trailer (`info`), the code, message and
 * details the server sent; without one (a transport failure), the code from
 * {@link CODE_OF_GRPC_STATUS} and a message free of grpc internals (timings, filter names,
 * addresses). The one place every party turns a gRPC failure into a {@link CrankError}.
 *
 * @param cause - the transport error, kept as `cause` (never sent on)
 */
export function crankErrorFromStatus(
  grpcCode: number,
  grpcDetails: string,
  info: WireErrorInfo | undefined,
  cause?: unknown,
): CrankError {
  if (info) {
    return crankErrorFrom(info.code, info.message, info.details, { retryable: info.retryable, cause });
  }
  const status = grpcCode as GrpcStatusCode;
  let code: ErrorCode = CODE_OF_GRPC_STATUS[status] ?? 'INTERNAL';
  // grpc-js answers an oversized message with RESOURCE_EXHAUSTED; sending it again never helps.
  if (code === 'RESOURCE_EXHAUSTED' && /larger than max/i.test(grpcDetails)) code = 'PAYLOAD_TOO_LARGE';
  const message = BARE_STATUS_MESSAGES[status] ?? transportText(grpcDetails, code);
  return new CrankError(code, message, { cause });
}

function transportText(details: string, code: ErrorCode): string {
  const cut = details.split(/,\s*(?:metadata filters|remote_addr)|\s\(\d{4}-\d\d-\d\dT/)[0]?.trim() ?? '';
  const text = cut.length > TRANSPORT_TEXT_MAX ? `${cut.slice(0, TRANSPORT_TEXT_MAX)}...` : cut;
  return text || `the server answered ${code} without details`;
}
