import { CapabilityError } from '@crank/worker-runtime';

/** A media type with its parameters, as RFC 9110 section 8.3.1 writes them. */
export interface MediaType {
  /** `type/subtype`, lower case. */
  type: string;
  /** Parameters by lower-case name, values unquoted. */
  params: Map<string, string>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Parses `type/subtype; name=value; name="quoted value"`.
 *
 * @throws CapabilityError INVALID_INPUT naming the parameter that is malformed or given twice
 */
export function parseMediaType(contentType: string): MediaType {
  const semicolon = contentType.indexOf(';');
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  const params = new Map<string, string>();
  let rest = semicolon === -1 ? '' : contentType.slice(semicolon + 1);
  while (rest.trim() !== '') {
    const equals = rest.indexOf('=');
    const name = (equals === -1 ? rest : rest.slice(0, equals)).trim().toLowerCase();
    if (equals === -1 || !TOKEN.test(name)) {
      throw new CapabilityError('INVALID_INPUT', `content-type: malformed parameter "${cut(rest.trim())}"`);
    }
    rest = rest.slice(equals + 1).trimStart();
    let value: string;
    if (rest.startsWith('"')) {
      const [quoted, after] = readQuoted(rest, name);
      value = quoted;
      rest = after;
    } else {
      const end = rest.indexOf(';');
      value = (end === -1 ? rest : rest.slice(0, end)).trim();
      rest = end === -1 ? '' : rest.slice(end);
    }
    rest = rest.trimStart();
    if (rest !== '' && !rest.startsWith(';')) {
      throw new CapabilityError('INVALID_INPUT', `content-type parameter ${name}: malformed value`);
    }
    rest = rest.slice(1);
    if (params.has(name))
      throw new CapabilityError('INVALID_INPUT', `content-type parameter ${name}: give it once`);
    params.set(name, value);
  }
  return { type, params };
}

/** A quoted-string at the start of `text` (backslash escapes one character), and what follows it. */
function readQuoted(text: string, name: string): [string, string] {
  let value = '';
  for (let i = 1; i < text.length; i++) {
    const char = text[i];
    if (char === '\\') value += text[++i] ?? '';
    else if (char === '"') return [value, text.slice(i + 1)];
    else value += char;
  }
  throw new CapabilityError('INVALID_INPUT', `content-type parameter ${name}: a quoted value is not closed`);
}

function cut(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
}
