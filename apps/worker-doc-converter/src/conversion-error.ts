/** The contract codes a conversion fails with on purpose. */
export type ConversionErrorCode = 'INVALID_INPUT' | 'UNSUPPORTED_FORMAT' | 'PAYLOAD_TOO_LARGE';

/**
 * Thrown when a conversion fails on purpose: a corrupt file, a pair not converted, an image too
 * large. The converters run in threads that import nothing of the runtime (which would cost every
 * new thread half a second), so this is a plain Error with a contract `code`: the thread pool
 * rebuilds it on the main thread as a CapabilityError with the same code, message and details.
 */
export class ConversionError extends Error {
  constructor(
    readonly code: ConversionErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ConversionError';
  }
}
