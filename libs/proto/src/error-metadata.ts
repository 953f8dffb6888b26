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

/**
 * Largest message and details text put in a trailer. HTTP/2 peers cap the size of a header block
 * (grpc-js at 16 KiB by default); a larger trailer fails the call and can wedge the connection.
 */
const TRAILER_MESSAGE_MAX = 1_024;
const TRAILER_DETAILS_MAX = 4_096;

/**
 * A grpc-js status object for a contract error: gRPC status plus the ErrorInfo trailer. Message
 * and details are cut to sizes every HTTP/2 peer accepts.
 */
export function contractErrorStatus(error: ContractErrorLike): {
  code: number;
  details: string;
  metadata: Metadata;
} {
  const message =
    error.message.length > TRAILER_MESSAGE_MAX
      ? `${error.message.slice(0, TRAILER_MESSAGE_MAX)}...`
      : error.message;
  let detailsJson = error.details === undefined ? '' : safeStringify(error.details);
  if (detailsJson.length > TRAILER_DETAILS_MAX) detailsJson = JSON.stringify({ truncated: true });
  const info = ErrorInfo.fromPartial({ code: error.code, message, detailsJson, retryable: error.retryable });
  return { code: error.grpcStatus, details: message, metadata: errorInfoToMetadata(info) };
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify({ unserializable: true });
  }
}

/** The contract error in a failure's trailer, decoded; undefined when there is none. */
export function wireErrorInfo(
  metadata: Metadata | undefined,
):
  | { code: string; message: string; details: Record<string, unknown> | undefined; retryable: boolean }
  | undefined {
  const info = errorInfoFromMetadata(metadata);
  if (!info) return undefined;
  return {
    code: info.code,
    message: info.message,
    details: parseDetailsJson(info.detailsJson),
    retryable: info.retryable,
  };
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
