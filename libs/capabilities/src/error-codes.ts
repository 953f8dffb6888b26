import { GrpcStatus, type GrpcStatusCode } from './grpc-status.js';

/**
 * The contract error codes, in the order they are documented. They travel next to the gRPC status
 * (trailing metadata) and in HTTP error bodies, so they are part of the wire contract: adding one
 * is fine, renaming or removing one is a breaking change.
 */
export const ERROR_CODES = Object.freeze([
  'INVALID_INPUT',
  'UNSUPPORTED_FORMAT',
  'PAYLOAD_TOO_LARGE',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'CAPABILITY_MISMATCH',
  'INVALID_CAPABILITY',
  'RESOURCE_EXHAUSTED',
  'UNAVAILABLE',
  'MODEL_NOT_READY',
  'DEADLINE_EXCEEDED',
  'CANCELLED',
  'CONTRACT_VIOLATION',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'FAILED_PRECONDITION',
  'INTERNAL',
] as const);

/** A contract error code, e.g. `'INVALID_INPUT'`. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** How one {@link ErrorCode} is reported on each transport and whether callers may retry it. */
export interface ErrorCodeStatus {
  /** gRPC status sent with the code. */
  readonly grpcStatus: GrpcStatusCode;
  /** HTTP status sent with the code (always 4xx or 5xx). */
  readonly httpStatus: number;
  /**
   * Whether the same call may succeed if sent again unchanged. The router retries only these, and
   * only where DESIGN.md section 4 allows (not accepted yet, or the capability is idempotent).
   */
  readonly retryable: boolean;
  /** One sentence on when the code is used. */
  readonly description: string;
}

function status(
  grpcStatus: GrpcStatusCode,
  httpStatus: number,
  retryable: boolean,
  description: string,
): ErrorCodeStatus {
  return Object.freeze({ grpcStatus, httpStatus, retryable, description });
}

/**
 * The gRPC and HTTP status of every contract error code. `Record<ErrorCode, ...>` makes the
 * compiler refuse a code without a mapping.
 */
export const ERROR_CODE_STATUS: Readonly<Record<ErrorCode, ErrorCodeStatus>> = Object.freeze({
  INVALID_INPUT: status(
    GrpcStatus.INVALID_ARGUMENT,
    400,
    false,
    'The payload breaks the capability input schema.',
  ),
  UNSUPPORTED_FORMAT: status(
    GrpcStatus.INVALID_ARGUMENT,
    415,
    false,
    'The payload is in a format the worker cannot handle.',
  ),
  // RESOURCE_EXHAUSTED is what gRPC itself answers for an oversized message; retrying never helps.
  PAYLOAD_TOO_LARGE: status(
    GrpcStatus.RESOURCE_EXHAUSTED,
    413,
    false,
    'The payload is larger than the worker accepts.',
  ),
  NOT_FOUND: status(
    GrpcStatus.NOT_FOUND,
    404,
    false,
    'The capability, version, job or worker does not exist.',
  ),
  ALREADY_EXISTS: status(GrpcStatus.ALREADY_EXISTS, 409, false, 'The thing being created exists already.'),
  CAPABILITY_MISMATCH: status(
    GrpcStatus.FAILED_PRECONDITION,
    409,
    false,
    "A worker's declaration contradicts the catalog.",
  ),
  INVALID_CAPABILITY: status(
    GrpcStatus.INVALID_ARGUMENT,
    422,
    false,
    'A capability definition breaks the definition schema.',
  ),
  RESOURCE_EXHAUSTED: status(
    GrpcStatus.RESOURCE_EXHAUSTED,
    429,
    true,
    'No worker slot is free and the queue is full.',
  ),
  UNAVAILABLE: status(
    GrpcStatus.UNAVAILABLE,
    503,
    true,
    'No worker can be reached for the capability right now.',
  ),
  MODEL_NOT_READY: status(
    GrpcStatus.UNAVAILABLE,
    503,
    true,
    'The worker is up but its model has not loaded yet.',
  ),
  DEADLINE_EXCEEDED: status(GrpcStatus.DEADLINE_EXCEEDED, 504, false, 'The call ran past its deadline.'),
  // 499 is the de facto "client closed request" status (nginx); no standard status fits better.
  CANCELLED: status(GrpcStatus.CANCELLED, 499, false, 'The caller cancelled the call.'),
  CONTRACT_VIOLATION: status(GrpcStatus.INTERNAL, 502, false, "A worker's output broke its output schema."),
  UNAUTHENTICATED: status(
    GrpcStatus.UNAUTHENTICATED,
    401,
    false,
    'The caller presented no valid credentials.',
  ),
  PERMISSION_DENIED: status(GrpcStatus.PERMISSION_DENIED, 403, false, 'The caller may not perform the call.'),
  FAILED_PRECONDITION: status(
    GrpcStatus.FAILED_PRECONDITION,
    409,
    false,
    'The system is not in a state that allows the call.',
  ),
  INTERNAL: status(GrpcStatus.INTERNAL, 500, false, 'An unexpected failure; see the logs.'),
});

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** Whether `value` is one of the contract {@link ERROR_CODES}. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && KNOWN_CODES.has(value);
}

/** The gRPC status sent with `code`. */
export function grpcStatusOf(code: ErrorCode): GrpcStatusCode {
  return ERROR_CODE_STATUS[code].grpcStatus;
}

/** The HTTP status sent with `code`. */
export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODE_STATUS[code].httpStatus;
}

/**
 * Codes any handler may fail with without declaring them: failures of the call rather than of the
 * handler's logic (cancelled, out of time, model still loading, worker unavailable) and INTERNAL.
 */
export const HANDLER_IMPLICIT_CODES: readonly ErrorCode[] = Object.freeze([
  'INTERNAL',
  'CANCELLED',
  'DEADLINE_EXCEEDED',
  'UNAVAILABLE',
  'MODEL_NOT_READY',
]);

/**
 * Codes a worker's runtime answers by itself, before or after the handler: input checks, unknown
 * capability, slots full, payload limits, identity checks, output checks.
 */
export const WORKER_RUNTIME_CODES: readonly ErrorCode[] = Object.freeze([
  'INVALID_INPUT',
  'UNSUPPORTED_FORMAT',
  'PAYLOAD_TOO_LARGE',
  'NOT_FOUND',
  'RESOURCE_EXHAUSTED',
  'PERMISSION_DENIED',
  'CONTRACT_VIOLATION',
]);

/**
 * The contract code a bare gRPC status stands for, when a failure carries no contract error
 * (transport failures, or a server that is not Crank's). The one reverse table: every party reads
 * bare statuses through it.
 */
export const CODE_OF_GRPC_STATUS: Readonly<Record<GrpcStatusCode, ErrorCode>> = Object.freeze({
  [GrpcStatus.OK]: 'INTERNAL',
  [GrpcStatus.CANCELLED]: 'CANCELLED',
  [GrpcStatus.UNKNOWN]: 'INTERNAL',
  [GrpcStatus.INVALID_ARGUMENT]: 'INVALID_INPUT',
  [GrpcStatus.DEADLINE_EXCEEDED]: 'DEADLINE_EXCEEDED',
  [GrpcStatus.NOT_FOUND]: 'NOT_FOUND',
  [GrpcStatus.ALREADY_EXISTS]: 'ALREADY_EXISTS',
  [GrpcStatus.PERMISSION_DENIED]: 'PERMISSION_DENIED',
  [GrpcStatus.RESOURCE_EXHAUSTED]: 'RESOURCE_EXHAUSTED',
  [GrpcStatus.FAILED_PRECONDITION]: 'FAILED_PRECONDITION',
  [GrpcStatus.ABORTED]: 'UNAVAILABLE',
  [GrpcStatus.OUT_OF_RANGE]: 'INVALID_INPUT',
  [GrpcStatus.UNIMPLEMENTED]: 'FAILED_PRECONDITION',
  [GrpcStatus.INTERNAL]: 'INTERNAL',
  [GrpcStatus.UNAVAILABLE]: 'UNAVAILABLE',
  [GrpcStatus.DATA_LOSS]: 'INTERNAL',
  [GrpcStatus.UNAUTHENTICATED]: 'UNAUTHENTICATED',
});
