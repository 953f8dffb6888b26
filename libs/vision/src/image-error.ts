import { CrankError, type ErrorCode } from '@crank/capabilities';

/** The contract codes an image can fail with. */
export type ImageErrorCode = Extract<ErrorCode, 'INVALID_INPUT' | 'UNSUPPORTED_FORMAT' | 'PAYLOAD_TOO_LARGE'>;

/**
 * Thrown when an image cannot be turned into a tensor: `INVALID_INPUT` when it is corrupt or
 * truncated, `UNSUPPORTED_FORMAT` when its bytes are no format this library reads,
 * `PAYLOAD_TOO_LARGE` when it decodes to more pixels than allowed. A worker may let it reach the
 * caller as it is: it is a `CrankError` with the contract code.
 */
export class ImageError extends CrankError {
  constructor(code: ImageErrorCode, message: string, details: Record<string, unknown>, cause?: unknown) {
    super(code, message, { details, cause });
  }
}
