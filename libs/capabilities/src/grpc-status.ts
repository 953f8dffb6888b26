/**
 * The standard gRPC status codes, defined here rather than imported from `@grpc/grpc-js` so that
 * this package stays free of transport dependencies (DESIGN.md section 1). The numbers are fixed by
 * the gRPC specification (`doc/statuscodes.md`) and never change.
 */
export const GrpcStatus = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const);

/** One of the numeric gRPC status codes in {@link GrpcStatus} (0 to 16). */
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** The name of a gRPC status code, e.g. `'INVALID_ARGUMENT'`. */
export type GrpcStatusName = keyof typeof GrpcStatus;
