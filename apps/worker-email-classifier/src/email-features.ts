import type { ParsedMessage } from '@crank/mail';

/**
 * What the features are made of: the parts of a message, whether it came whole (and was parsed
 * by `@crank/mail`) or as `{ subject, from, body }`.
 */
export interface EmailParts {
  subject?: string;
  fromAddress?: string;
  fromName?: string;
  /** The text body (for an HTML-only message, its HTML as text). */
  text: string;
  /** The HTML body, when there is one. */
  html?: string;
  /** Header values by lower-case name; absent when only the parts were given. */
  headers?: Readonly<Record<string, string>>;
  attachments: number;
}

/**
 * Version of the feature set below. The model card records the version it was trained with, and
 * a model of another version is refused at load: its weights would mean other features.
 */
export const FEATURE_SET_VERSION = 1;

/** Tokens of the body read, at most; past this, a message says nothing new about itself. */
const BODY_TOKENS_MAX = 4000;
/** Longer "words" are encoded blobs or line noise, not words. */
const TOKEN_CHARS_MAX = 30;
/** Header values read for their first words: what sent the message and how it is laid out. */
const VALUE_HEADERS = ['x-mailer', 'user-agent', 'content-type', 'precedence', 'x-priority', 'importance'];
/**
 * Headers a spam filter added on the way (the corpus went through SpamAssassin itself): learning
 * from them would learn that filter's verdict, not the message.
 */
const VERDICT_HEADER = /^x-(spam|razor|pyzor|dcc|bogosity|virus)/;

const WORD = /[\p{L}\p{N}][\p{L}\p{N}'_-]*|[$€£!]/gu;
const URL_HOST = /\bhttps?:\/\/([a-z0-9.-]+)/gi;

/** The parts of a message parsed by `@crank/mail` (with `keepHeaders`). */
export function partsOfParsed(parsed: ParsedMessage): EmailParts {
  return {
    ...(parsed.subject !== undefined ? { subject: parsed.subject } : {}),
    ...(parsed.from?.address ? { fromAddress: parsed.from.address } : {}),
    ...(parsed.from?.name ? { fromName: parsed.from.name } : {}),
    text: parsed.text ?? '',
    ...(parsed.html !== undefined ? { html: parsed.html } : {}),
    ...(parsed.headers ? { headers: parsed.headers } : {}),
    attachments: parsed.attachments.length,
  };
}

/** The parts of `{ subject, from, body }`; `from` as written (`Ann <ann@example.com>`). */
export function partsOfFields(fields: { subject?: string; from?: string; body: string }): EmailParts {
  const address = fields.from === undefined ? undefined : /[^\s<>"]+@[^\s<>"]+/.exec(fields.from)?.[0];
  const name = fields.from
    ?.replace(/<[^>]*>/g, '')
    .replace(/["']/g, '')
    .trim();
  return {
    ...(fields.subject !== undefined ? { subject: fields.subject } : {}),
    ...(address !== undefined ? { fromAddress: address.toLowerCase() } : {}),
    ...(name && name !== address ? { fromName: name } : {}),
    text: fields.body,
    attachments: 0,
  };
}

/** The words of a text, lower-cased, digits folded to 0 (prices and phone numbers alike). */
export function wordsOf(text: string, max = Number.POSITIVE_INFINITY): string[] {
  const words: string[] = [];
  for (const match of text.toLowerCase().matchAll(WORD)) {
    const word = match[0];
    if (word.length > TOKEN_CHARS_MAX) continue;
    words.push(word.replace(/\d/g, '0'));
    if (words.length >= max) break;
  }
  return words;
}

/**
 * The features of a message and how often each occurs: words and word pairs of the subject and
 * body, the sender's domain and name, the hosts of links, which headers are present and the first
 * words of a few, and its shape (HTML or not, attachments, length, shouting). The names are
 * readable, so that they can explain a decision.
 */
export function featuresOf(parts: EmailParts): Map<string, number> {
  const features = new Map<string, number>();
  const add = (name: string): void => {
    features.set(name, (features.get(name) ?? 0) + 1);
  };
  const addWords = (prefix: string, words: string[]): void => {
    for (let i = 0; i < words.length; i++) {
      add(`${prefix}:${words[i]}`);
      if (i > 0) add(`${prefix}:${words[i - 1]} ${words[i]}`);
    }
  };

  const subject = parts.subject ?? '';
  addWords('subject', wordsOf(subject));
  const letters = subject.replace(/[^\p{L}]/gu, '');
  if (letters.length >= 4 && letters === letters.toUpperCase()) add('shape:subject in capitals');
  if (subject === '') add('shape:no subject');

  const body = wordsOf(parts.text, BODY_TOKENS_MAX);
  addWords('body', body);
  add(`shape:body words ~${2 ** Math.ceil(Math.log2(body.length + 1))}`);

  if (parts.fromAddress) {
    const domain = parts.fromAddress.slice(parts.fromAddress.lastIndexOf('@') + 1).toLowerCase();
    add(`from-domain:${domain}`);
    add(`from-tld:${domain.slice(domain.lastIndexOf('.') + 1)}`);
  } else {
    add('shape:no sender address');
  }
  for (const word of wordsOf(parts.fromName ?? '', 4)) add(`from-name:${word}`);

  for (const source of [parts.text, parts.html ?? '']) {
    for (const match of source.matchAll(URL_HOST)) add(`link-host:${(match[1] ?? '').toLowerCase()}`);
  }
  if (parts.html !== undefined) {
    add(parts.text === '' ? 'shape:html only' : 'shape:html');
  }
  if (parts.attachments > 0) add(`shape:attachments ${Math.min(parts.attachments, 3)}`);

  if (parts.headers) {
    for (const [name, value] of Object.entries(parts.headers)) {
      if (VERDICT_HEADER.test(name)) continue;
      add(`header:${name}`);
      if (VALUE_HEADERS.includes(name)) {
        for (const word of wordsOf(value, 2)) add(`header:${name}=${word}`);
      }
    }
  }
  return features;
}
