import type { StatusObject } from '@grpc/grpc-js';
import { CrankError } from '@crank/capabilities';
import { contractErrorStatus } from '@crank/proto';

/** Any thrown value as a contract error: a handler's plain Error becomes INTERNAL. */
export function asCrankError(error: unknown): CrankError {
  if (error instanceof CrankError) return error;
  return new CrankError('INTERNAL', `handler failed: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
  });
}

/** gRPC status plus the ErrorInfo trailer for a thrown value. */
export function statusOf(error: unknown): Partial<StatusObject> {
  return contractErrorStatus(asCrankError(error));
}
