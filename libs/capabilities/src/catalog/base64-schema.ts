/**
 * A JSON Schema for file content sent as base64 text inside a JSON payload (standard alphabet,
 * padded). `maxLength` is derived from the decoded size limit so that an oversized file is refused
 * before it is decoded. A plain character-class pattern rather than ajv-formats' `byte` format,
 * whose regular expression overflows the stack on a few MiB of text.
 *
 * @param maxBytes - the largest decoded size accepted, in bytes
 */
export function base64Schema(description: string, maxBytes: number): Record<string, unknown> {
  return {
    type: 'string',
    contentEncoding: 'base64',
    pattern: '^[A-Za-z0-9+/]*={0,2}$',
    maxLength: Math.ceil(maxBytes / 3) * 4,
    description,
  };
}

/** One mebibyte, for size limits. */
export const MIB = 1024 * 1024;
