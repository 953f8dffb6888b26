import type { HeaderBlock } from './header-block.js';
import { MAIL_WARNING_CODES, quote, type MailWarnings } from './mail-warnings.js';
import { parseStructuredHeader } from './structured-header.js';

/** Media types are `type/subtype` in RFC 2045 tokens. */
const MEDIA_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;
/** RFC 2046 caps boundaries at 70 characters; some mailers go beyond, nobody beyond this. */
export const BOUNDARY_MAX = 200;
/** The fields of a MIME part's own header block that the parser reads. */
export const PART_FIELDS: ReadonlySet<string> = new Set([
  'content-type',
  'content-transfer-encoding',
  'content-disposition',
]);

/** What a part's header block says about its body. */
export interface PartInfo {
  /** IMAP part number: `1`, `2.1`; `''` for a message's root when it is a multipart. */
  id: string;
  /** Media type without parameters, lower case; `text/plain` when absent or malformed. */
  contentType: string;
  /** The multipart boundary, as bytes of `--boundary`; set for a multipart that has one. */
  delimiter?: Buffer;
  charset?: string;
  /** `base64`, `quoted-printable`, `7bit`, ... lower case; '' when absent. */
  encoding: string;
  /** `attachment`, `inline` or '' when absent. */
  disposition: string;
  filename?: string;
}

/**
 * Reads the MIME fields of a header block (a message's or a part's). `defaultType` is
 * `message/rfc822` inside `multipart/digest` (RFC 2046 5.1.5), else `text/plain`.
 */
export function readPartInfo(
  headers: HeaderBlock,
  id: string,
  defaultType: string,
  warnings: MailWarnings,
): PartInfo {
  const warnPart = id === '' ? undefined : id;
  const rawType = headers.getRaw('content-type');
  let contentType = defaultType;
  let charset: string | undefined;
  let delimiter: Buffer | undefined;
  let name: string | undefined;
  if (rawType !== undefined) {
    const parsed = parseStructuredHeader(rawType);
    if (MEDIA_TYPE.test(parsed.value)) {
      contentType = parsed.value;
    } else {
      warnings.add(
        MAIL_WARNING_CODES.badContentType,
        `Content-Type ${quote(parsed.value)} is no type/subtype; read as text/plain`,
        warnPart,
      );
      contentType = 'text/plain';
    }
    charset = parsed.params.get('charset');
    name = parsed.params.get('name');
    const boundary = parsed.params.get('boundary');
    if (contentType.startsWith('multipart/')) {
      if (boundary && boundary.length <= BOUNDARY_MAX) {
        delimiter = Buffer.from(`--${boundary}`, 'utf8');
      } else {
        warnings.add(
          MAIL_WARNING_CODES.missingBoundary,
          `${contentType} without a usable boundary; read as one text/plain part`,
          warnPart,
        );
        contentType = 'text/plain';
      }
    }
  }
  const rawDisposition = headers.getRaw('content-disposition');
  const disposition = rawDisposition === undefined ? undefined : parseStructuredHeader(rawDisposition);
  const encoding = (headers.get('content-transfer-encoding') ?? '').trim().toLowerCase();
  const filename = disposition?.params.get('filename') ?? name;
  const info: PartInfo = {
    id,
    contentType,
    encoding,
    disposition: disposition?.value ?? '',
  };
  if (delimiter) info.delimiter = delimiter;
  if (charset) info.charset = charset;
  if (filename) info.filename = filename;
  return info;
}

/**
 * Whether a leaf part is body text (text/plain or text/html, not marked an attachment and without
 * a file name) rather than an attachment.
 */
export function isBodyText(part: PartInfo): boolean {
  return (
    (part.contentType === 'text/plain' || part.contentType === 'text/html') &&
    part.disposition !== 'attachment' &&
    part.filename === undefined
  );
}
