import type { ServiceError } from '@grpc/grpc-js';
import { crankErrorFromStatus, type CrankError } from '@crank/capabilities';
import { wireErrorInfo } from '@crank/proto';

/**
 * A gRPC failure as the typed contract error: the code from the `crank-error-bin` trailer when the
 * server sent one, else derived from the gRPC status by the one table every party uses
 * (`CODE_OF_GRPC_STATUS`), with a message free of grpc internals.
 */
export function errorFromServiceError(error: ServiceError): CrankError {
  return crankErrorFromStatus(error.code, error.details ?? '', wireErrorInfo(error.metadata), error);
}
