import type { ConvertDocumentOutput } from '@crank/capabilities';
import { binary, CapabilityError, type BinaryOutput } from '@crank/worker-runtime';
import type { ConvertResult } from './conversion.js';
import { isTextTarget, type SourceFormat, type TargetFormat } from './formats.js';

const MIB = 1024 * 1024;
/** Largest answer of a call: one 64 MiB gRPC message, less room for its envelope. */
const MAX_RAW_BYTES = 63 * MIB;
/** Largest JSON answer: 64 MiB less room for the message's envelope. */
const MAX_JSON_BYTES = 64 * MIB - 64 * 1024;
/** Largest file a JSON answer carries base64 (the catalog's limit on `content`). */
const MAX_BASE64_FILE_BYTES = 47 * MIB;
const MAX_WARNINGS = 100;
const MAX_WARNING_CHARS = 1024;

/** What the reply says besides the converted file. */
export interface ReplyFacts {
  to: TargetFormat;
  from: SourceFormat;
  reply: 'json' | 'raw';
  bytesIn: number;
  durationMs: number;
}

/**
 * The answer of a call: the converted file alone as bytes of its media type (`reply: 'raw'`), or
 * the JSON output with the file as `text` (text formats) or base64 `content`, its media type and
 * metadata.
 *
 * @throws CapabilityError PAYLOAD_TOO_LARGE when the answer would not fit the message that
 *   carries it (the message says whether `reply=raw` would)
 */
export function buildReply(result: ConvertResult, facts: ReplyFacts): ConvertDocumentOutput | BinaryOutput {
  const bytesOut = result.data.byteLength;
  if (facts.reply === 'raw') {
    if (bytesOut > MAX_RAW_BYTES) throw tooLarge(bytesOut, MAX_RAW_BYTES, '');
    return binary(result.data, rawMediaType(result.mediaType));
  }
  const output: ConvertDocumentOutput = {
    format: facts.to,
    mediaType: result.mediaType,
    metadata: {
      from: facts.from,
      bytesIn: facts.bytesIn,
      bytesOut,
      durationMs: Math.round(facts.durationMs * 10) / 10,
      ...result.metadata,
    },
    warnings: result.warnings.slice(0, MAX_WARNINGS).map((warning) => warning.slice(0, MAX_WARNING_CHARS)),
  };
  const data = Buffer.from(result.data.buffer, result.data.byteOffset, result.data.byteLength);
  if (isTextTarget(facts.to)) {
    output.text = data.toString('utf8');
    // Escapes can make JSON text up to six times its bytes; measured only when that could matter.
    if (bytesOut * 6 > MAX_JSON_BYTES) {
      const jsonBytes = Buffer.byteLength(JSON.stringify(output));
      if (jsonBytes > MAX_JSON_BYTES) throw tooLarge(jsonBytes, MAX_JSON_BYTES, ' as JSON');
    }
  } else {
    if (bytesOut > MAX_BASE64_FILE_BYTES) throw tooLarge(bytesOut, MAX_BASE64_FILE_BYTES, ' in base64');
    output.content = data.toString('base64');
  }
  return output;
}

/**
 * The media type of a raw answer. `application/json` is the platform's own answer type, which the
 * controller checks against the output schema, so a JSON file goes out as `text/json`.
 */
function rawMediaType(mediaType: string): string {
  return mediaType === 'application/json' ? 'text/json; charset=utf-8' : mediaType;
}

function tooLarge(bytes: number, max: number, how: string): CapabilityError {
  const hint = how === '' ? '' : '; reply=raw answers with the file alone, up to 63 MiB';
  return new CapabilityError(
    'PAYLOAD_TOO_LARGE',
    `output: ${bytes} bytes${how} is more than one answer carries (${max} bytes)${hint}`,
    { bytes, maxBytes: max },
  );
}
