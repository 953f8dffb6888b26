import { Payload } from '@crank/proto';

/** Content type of JSON payloads, the default of every call. */
export const JSON_TYPE = 'application/json';

/** Whether payloads of `contentType` carry JSON (empty, `application/json`, or a `+json` type). */
export function isJsonType(contentType: string): boolean {
  return contentType === '' || /^application\/(.+\+)?json\b/.test(contentType);
}

/**
 * The wire form of one input: raw bytes for Buffers and Uint8Arrays (with `contentType`, else
 * `application/octet-stream`), JSON for any other value.
 */
export function toPayload(value: unknown, contentType?: string): Payload {
  if (value instanceof Uint8Array) {
    return Payload.fromPartial({
      contentType: contentType ?? 'application/octet-stream',
      data: Buffer.from(value.buffer, value.byteOffset, value.byteLength),
    });
  }
  return Payload.fromPartial({ contentType: JSON_TYPE, data: Buffer.from(JSON.stringify(value ?? null)) });
}

/** Parsed JSON, or a Buffer for any other content type. */
export function fromPayload(payload: Payload): unknown {
  const data = Buffer.from(payload.data.buffer, payload.data.byteOffset, payload.data.byteLength);
  if (isJsonType(payload.contentType)) {
    return data.length === 0 ? null : (JSON.parse(data.toString('utf8')) as unknown);
  }
  return data;
}
