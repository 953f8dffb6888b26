import { ConversionError } from '../conversion-error.js';

/** Longest library message quoted in an error: enough to say what broke, never a dump of the file. */
const MAX_CAUSE_CHARS = 300;

/**
 * INVALID_INPUT for a file its library could not read, quoting the library's reason. A
 * ConversionError thrown on purpose passes through unchanged.
 */
export function invalidFile(format: string, error: unknown): ConversionError {
  if (error instanceof ConversionError) return error;
  const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
  const cut = reason.length > MAX_CAUSE_CHARS ? `${reason.slice(0, MAX_CAUSE_CHARS)}...` : reason;
  return new ConversionError(
    'INVALID_INPUT',
    `content: is not a valid ${format} file (${cut || 'unreadable'})`,
    {
      format,
    },
  );
}
