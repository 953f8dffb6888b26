import { status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { CrankError, crankErrorFrom, type ErrorCode } from '@crank/capabilities';
import { contractErrorStatus, errorInfoFromMetadata, parseDetailsJson } from '@crank/proto';

/** Any thrown value as a contract error; unknown failures become INTERNAL without leaking details. */
export function asCrankError(error: unknown): CrankError {
  if (error instanceof CrankError) return error;
  return new CrankError('INTERNAL', 'internal error', { cause: error });
}

/** A gRPC status object carrying the contract error in trailing metadata. */
export function toGrpcStatus(error: unknown): Partial<StatusObject> {
  return contractErrorStatus(asCrankError(error));
}

/** Status codes a transport (not a worker) produces, by contract code. */
const TRANSPORT_CODES: Partial<Record<number, ErrorCode>> = {
  [status.UNAVAILABLE]: 'UNAVAILABLE',
  [status.DEADLINE_EXCEEDED]: 'DEADLINE_EXCEEDED',
  [status.CANCELLED]: 'CANCELLED',
  [status.RESOURCE_EXHAUSTED]: 'RESOURCE_EXHAUSTED',
  [status.UNAUTHENTICATED]: 'UNAUTHENTICATED',
  [status.PERMISSION_DENIED]: 'PERMISSION_DENIED',
};

/**
 * Reads a worker's error: the contract error when the worker sent one (`fromWorker` true), else a
 * transport failure mapped from the gRPC status.
 */
export function fromServiceError(error: ServiceError): { error: CrankError; fromWorker: boolean } {
  const info = errorInfoFromMetadata(error.metadata);
  if (info)
    return {
      error: crankErrorFrom(info.code, info.message, parseDetailsJson(info.detailsJson), {
        retryable: info.retryable,
        cause: error,
      }),
      fromWorker: true,
    };
  const code = TRANSPORT_CODES[error.code] ?? 'INTERNAL';
  return { error: new CrankError(code, error.details || error.message, { cause: error }), fromWorker: false };
}

/** The caller's deadline as epoch ms, or undefined when it set none (grpc-js reports Infinity). */
export function deadlineOf(call: { getDeadline(): Date | number }): number | undefined {
  const deadline = call.getDeadline();
  if (deadline instanceof Date) return deadline.getTime();
  return Number.isFinite(deadline) ? deadline : undefined;
}
