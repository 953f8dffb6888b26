import { Metadata } from '@grpc/grpc-js';
import { ErrorInfo } from './generated/crank/v1/common.js';

/**
 * Trailing-metadata key that carries the contract error ({@link ErrorInfo}) next to the gRPC
 * status. The `-bin` suffix makes grpc-js transport it as binary.
 */
export const ERROR_METADATA_KEY = 'crank-error-bin';

/** Returns metadata holding `info` under {@link ERROR_METADATA_KEY}. */
export function errorInfoToMetadata(info: ErrorInfo, metadata: Metadata = new Metadata()): Metadata {
  metadata.set(ERROR_METADATA_KEY, Buffer.from(ErrorInfo.encode(info).finish()));
  return metadata;
}

/** Reads the contract error from trailing metadata; undefined when absent or unreadable. */
export function errorInfoFromMetadata(metadata: Metadata | undefined): ErrorInfo | undefined {
  const value = metadata?.get(ERROR_METADATA_KEY)[0];
  if (!(value instanceof Buffer)) return undefined;
  try {
    return ErrorInfo.decode(value);
  } catch {
    return undefined;
  }
}

/** The fields of a contract error that travel; `@crank/capabilities`' CrankError has them all. */
export interface ContractErrorLike {
  code: string;
  message: string;
  details?: Record<string, unknown> | undefined;
  retryable: boolean;
  grpcStatus: number;
}

/** A grpc-js status object for a contract error: gRPC status plus the ErrorInfo trailer. */
export function contractErrorStatus(error: ContractErrorLike): {
  code: number;
  details: string;
  metadata: Metadata;
} {
  const info = ErrorInfo.fromPartial({
    code: error.code,
    message: error.message,
    detailsJson: error.details === undefined ? '' : JSON.stringify(error.details),
    retryable: error.retryable,
  });
  return { code: error.grpcStatus, details: error.message, metadata: errorInfoToMetadata(info) };
}

/** Parses ErrorInfo.details_json; undefined when empty or not a JSON object. */
export function parseDetailsJson(json: string): Record<string, unknown> | undefined {
  if (!json) return undefined;
  try {
    const value = JSON.parse(json) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
