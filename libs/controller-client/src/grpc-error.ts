import { status, type ServiceError } from '@grpc/grpc-js';
import { CrankError, crankErrorFrom, type ErrorCode } from '@crank/capabilities';
import { errorInfoFromMetadata, parseDetailsJson } from '@crank/proto';

const BY_STATUS: Partial<Record<number, ErrorCode>> = {
  [status.CANCELLED]: 'CANCELLED',
  [status.INVALID_ARGUMENT]: 'INVALID_INPUT',
  [status.DEADLINE_EXCEEDED]: 'DEADLINE_EXCEEDED',
  [status.NOT_FOUND]: 'NOT_FOUND',
  [status.ALREADY_EXISTS]: 'ALREADY_EXISTS',
  [status.PERMISSION_DENIED]: 'PERMISSION_DENIED',
  [status.RESOURCE_EXHAUSTED]: 'RESOURCE_EXHAUSTED',
  [status.FAILED_PRECONDITION]: 'FAILED_PRECONDITION',
  [status.UNAVAILABLE]: 'UNAVAILABLE',
  [status.UNAUTHENTICATED]: 'UNAUTHENTICATED',
};

/**
 * A gRPC failure as the typed contract error: the code from the `crank-error-bin` trailer when the
 * server sent one, else derived from the gRPC status (transport failures).
 */
export function errorFromServiceError(error: ServiceError): CrankError {
  const info = errorInfoFromMetadata(error.metadata);
  if (info) {
    return crankErrorFrom(info.code, info.message, parseDetailsJson(info.detailsJson), {
      retryable: info.retryable,
      cause: error,
    });
  }
  return new CrankError(BY_STATUS[error.code] ?? 'INTERNAL', error.details || error.message, {
    cause: error,
  });
}
