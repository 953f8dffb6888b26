import { CrankError, type Capability } from '@crank/capabilities';
import { Payload } from '@crank/proto';

export const JSON_CONTENT_TYPE = 'application/json';

/** Whether a payload holds JSON (the default when no content type is given). */
export function isJson(contentType: string): boolean {
  return contentType === '' || /^application\/(.+\+)?json\b/.test(contentType);
}

/** Parses a JSON payload; INVALID_INPUT (naming `field`) when it is not JSON. */
export function parseJson(data: Uint8Array, field: string): unknown {
  try {
    return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as unknown;
  } catch (error) {
    throw new CrankError('INVALID_INPUT', `${field}: is not valid JSON (${(error as Error).message})`);
  }
}

export function jsonPayload(value: unknown): Payload {
  return Payload.fromPartial({ contentType: JSON_CONTENT_TYPE, data: Buffer.from(JSON.stringify(value)) });
}

/** Validates a JSON input payload against the capability; other content types pass through. */
export function checkInput(capability: Capability, payload: Payload | undefined): void {
  if (!payload || !isJson(payload.contentType)) return;
  capability.assertInput(parseJson(payload.data, 'input'));
}
