/**
 * Schema fragments shared by `parse.email` and `parse.mbox`, which describe a message the same way.
 * Addresses are kept as written: real mail (spam above all) carries addresses that no format check
 * accepts, and refusing them would turn a parsed message into a contract violation.
 */

/** A mailbox as found in a header. */
export interface EmailAddress {
  /** Display name, decoded (RFC 2047). */
  name?: string;
  /** The address as written, e.g. `ann@example.com`; not checked against RFC 5321. */
  address: string;
}

/** An attachment's metadata; parsers never return the attachment bytes in a summary. */
export interface EmailAttachment {
  filename?: string;
  /** Media type without parameters, e.g. `application/pdf`. */
  contentType: string;
  /** Decoded size in bytes. */
  size: number;
  /** SHA-256 of the decoded bytes, lower-case hex. */
  sha256: string;
}

/**
 * Something of the message that does not follow the RFCs and was read as well as it could be: a
 * header line without a colon, bad base64, a multipart that never closes, an unknown charset.
 * A message with warnings still has a summary; `code` is stable (kebab-case), `message` is prose.
 */
export interface EmailWarning {
  /** e.g. `header-syntax`, `bad-base64`, `unterminated-multipart` (see `@crank/mail`). */
  code: string;
  message: string;
  /** The MIME part it is about (IMAP numbering: `1`, `2.1`); absent for the message's own headers. */
  part?: string;
}

/** The fields both parsers report for one message. */
export interface EmailSummaryFields {
  messageId?: string;
  from?: EmailAddress;
  to: EmailAddress[];
  cc: EmailAddress[];
  subject?: string;
  /** RFC 3339 date-time, from the `Date` header; absent when missing or unparseable. */
  date?: string;
  attachments: EmailAttachment[];
  /** What was malformed; empty for a well-formed message. */
  warnings: EmailWarning[];
}

/** RFC 5322 caps a header line at 998 characters; no single header value we report is longer. */
const HEADER_MAX = 998;
/** Bounds the size of a summary whatever the message holds. */
const LIST_MAX = 1000;
/** Most warnings one summary carries; parsers stop adding (and say so) past it. */
export const WARNINGS_MAX = 100;

export const EMAIL_ADDRESS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['address'],
  properties: {
    name: { type: 'string', maxLength: HEADER_MAX, description: 'Display name, decoded (RFC 2047).' },
    address: {
      type: 'string',
      minLength: 1,
      maxLength: HEADER_MAX,
      description: 'The address as written; not checked against RFC 5321 (see the file comment).',
    },
  },
};

const ADDRESS_LIST_SCHEMA = { type: 'array', maxItems: LIST_MAX, items: EMAIL_ADDRESS_SCHEMA };

export const EMAIL_ATTACHMENT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['contentType', 'size', 'sha256'],
  properties: {
    filename: {
      type: 'string',
      maxLength: 1024,
      description: 'File name from Content-Disposition or Content-Type.',
    },
    contentType: {
      type: 'string',
      pattern: '^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$',
      description: 'Media type without parameters, e.g. application/pdf.',
    },
    size: { type: 'integer', minimum: 0, description: 'Decoded size in bytes.' },
    sha256: {
      type: 'string',
      pattern: '^[0-9a-f]{64}$',
      description: 'SHA-256 of the decoded bytes, lower-case hex.',
    },
  },
};

/** One {@link EmailWarning}. */
export const EMAIL_WARNING_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['code', 'message'],
  properties: {
    code: {
      type: 'string',
      pattern: '^[a-z][a-z0-9-]*$',
      maxLength: 64,
      description: 'Stable kebab-case code, e.g. header-syntax, bad-base64, unterminated-multipart.',
    },
    message: { type: 'string', maxLength: 1000, description: 'What is wrong, in words.' },
    part: {
      type: 'string',
      pattern: '^[0-9]+(\\.[0-9]+)*$',
      description: "The MIME part (IMAP numbering); absent for the message's own headers.",
    },
  },
};

/** Header values by lower-case name (printable ASCII except ":"). */
export const EMAIL_HEADERS_SCHEMA = {
  type: 'object',
  description: 'Header values by lower-case name, decoded; repeated headers are joined with "\\n".',
  propertyNames: { pattern: '^[!-9;-@\\[-~]+$' },
  maxProperties: LIST_MAX,
  additionalProperties: { type: 'string' },
};

/** The `properties` both parsers share; each schema adds its own on top. */
export const EMAIL_SUMMARY_PROPERTIES = {
  messageId: {
    type: 'string',
    maxLength: HEADER_MAX,
    description: 'Message-ID header, without angle brackets.',
  },
  from: { ...EMAIL_ADDRESS_SCHEMA, description: 'First mailbox of the From header.' },
  to: { ...ADDRESS_LIST_SCHEMA, description: 'Mailboxes of the To header; empty when absent.' },
  cc: { ...ADDRESS_LIST_SCHEMA, description: 'Mailboxes of the Cc header; empty when absent.' },
  subject: {
    type: 'string',
    maxLength: HEADER_MAX * 4,
    description: 'Subject header, decoded and unfolded.',
  },
  date: {
    type: 'string',
    format: 'date-time',
    description: 'Date header as an RFC 3339 date-time; absent when missing or unparseable.',
  },
  attachments: {
    type: 'array',
    maxItems: LIST_MAX,
    items: EMAIL_ATTACHMENT_SCHEMA,
    description: 'Attachments in message order (metadata only).',
  },
  warnings: {
    type: 'array',
    maxItems: WARNINGS_MAX,
    items: EMAIL_WARNING_SCHEMA,
    description: 'What was malformed and how it was read; empty for a well-formed message.',
  },
};

/** Fields every summary has, even for an empty message. */
export const EMAIL_SUMMARY_REQUIRED = ['to', 'cc', 'attachments', 'warnings'];
